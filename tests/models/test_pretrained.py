"""build_model(..., pretrained=...) loads registered published weights, fetched and verified like data.

The MONAI Model Zoo spleen bundle is registered with its real URL and sha1; here its format twin (a bundle-shaped
zip whose checkpoint has the architecture's exact keys and shapes) is served from 127.0.0.1 in its place.
"""

from __future__ import annotations

import io
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

import medimg_kernel as mk
from medimg_kernel.data.twins import write_twins
from medimg_kernel.errors import ConfigError

NAME = "monai-spleen-ct-unet"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served_weights(tmp_path, monkeypatch):
    served = tmp_path / "served"
    srv = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(served)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        manifest = write_twins([NAME], served, base_url=f"http://127.0.0.1:{srv.server_address[1]}", progress=False,
                               seed=3)
        monkeypatch.setenv("MEDIMG_REGISTRY", str(manifest))
        monkeypatch.setenv("MEDIMG_DATA", str(tmp_path / "cache"))
        yield served
    finally:
        srv.shutdown()
        srv.server_close()


def test_registered_entry_is_the_real_release():
    e = mk.dataset_info(NAME)
    assert e.loader == "weights" and e.files[0].known_hash == "sha1:1bec4fbc4d445088383f181c28a86212632eaeb3"
    assert e.files[0].urls[0].startswith("https://github.com/Project-MONAI/model-zoo/releases/download/")


def test_pretrained_loads_the_published_tensors(served_weights):
    with zipfile.ZipFile(served_weights / mk.dataset_info(NAME).files[0].filename) as zf:
        ckpt = zf.read("spleen_ct_segmentation/models/model.pt")
    state = torch.load(io.BytesIO(ckpt), weights_only=True)
    net = mk.build_model("unet", 3, 1, 2, pretrained=NAME)
    own = net.state_dict()
    assert set(own) == set(state) and all(torch.equal(own[k], state[k]) for k in state)
    assert net.medimg_pretrained == {"weights": NAME, "loaded": len(state), "skipped": []}
    same = mk.build_model("unet", 3, 1, 2, pretrained=True)  # the one registered UNet-3D entry
    assert all(torch.equal(same.state_dict()[k], state[k]) for k in state)
    fresh = mk.build_model("unet", 3, 1, 2, channels=(16, 32, 64, 128, 256), num_res_units=2)
    assert not all(torch.equal(fresh.state_dict()[k], state[k]) for k in state)


def test_a_new_head_keeps_its_initialisation_and_is_reported(served_weights):
    net = mk.build_model("unet", 3, 1, 3, pretrained=NAME)  # three labels instead of two
    skipped = net.medimg_pretrained["skipped"]
    assert any("vs model (3," in s for s in skipped), skipped  # the output layer: 2 labels in the file, 3 here
    assert net.medimg_pretrained["loaded"] > 10


def test_bad_requests_are_one_line_errors(served_weights):
    with pytest.raises(ConfigError, match="another architecture: channels"):
        mk.build_model("unet", 3, 1, 2, pretrained=NAME, channels=(8, 16))
    with pytest.raises(ConfigError, match="is a dataset, not weights"):
        mk.build_model("unet", 3, 1, 2, pretrained="mednist")
    with pytest.raises(ConfigError, match="belong to 'unet' in 3D"):
        mk.build_model("unet", 2, 1, 2, pretrained=NAME)
    with pytest.raises(ConfigError, match="no registered weights for 'densenet121'"):
        mk.build_model("densenet121", 2, 1, 2, pretrained=True)
    with pytest.raises(ConfigError, match="holds model weights, not data"):
        mk.load(NAME)
