"""One item-key table: training and viewing read the same image and label out of an item dict."""

import numpy as np
import pytest

from medimg_kernel.data.items import IMAGE_KEYS, LABEL_KEYS, image_key, label_key
from medimg_kernel.errors import ConfigError


@pytest.mark.parametrize("ikey", IMAGE_KEYS)
@pytest.mark.parametrize("lkey", ["seg", "segmentation", "mask", "label"])
def test_train_and_viz_agree_on_every_key(ikey, lkey):
    from medimg_kernel.train.data import split_item as train_split
    from medimg_kernel.viz.volume import split_item as viz_split

    img, lab = np.random.rand(4, 5, 6), (np.random.rand(4, 5, 6) > 0.5).astype(np.uint8)
    item = {ikey: img, lkey: lab, "affine": np.eye(4)}
    x, y = train_split(item)
    vx, vy, geo = viz_split(item)
    assert x is img and vx is img
    assert y is lab and vy is lab
    assert np.array_equal(geo["affine"], np.eye(4))


def test_first_key_in_table_order_wins_and_missing_image_says_what_to_do():
    assert image_key({"t1": 0, "image": 1}) == "image"
    assert label_key({"mask": 0, "label": 1}) == "label"
    assert label_key({"image": 1}) is None
    assert set(IMAGE_KEYS).isdisjoint(LABEL_KEYS)
    with pytest.raises(ConfigError, match="name it one of image"):
        image_key({"pixels": 1})
