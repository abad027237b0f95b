"""The Trainer's small parts on their own: early stopping, optimizer/scheduler factories, RNG state."""

import random

import numpy as np
import pytest
import torch

from medimg_kernel.errors import ConfigError
from medimg_kernel.train.early_stopping import EarlyStopping, default_monitor, monitor_mode
from medimg_kernel.train.optim import build_optimizer, build_scheduler, step_epoch_end, steps_per_batch
from medimg_kernel.train.rng import rng_state, seed_everything, set_rng_state


def test_early_stopping_tracks_best_and_stops_after_patience():
    assert EarlyStopping.parse(3) == {"patience": 3} and EarlyStopping.parse(None) == {}
    assert EarlyStopping.parse(True) == {"patience": 5}
    with pytest.raises(ConfigError, match="unknown keys.*patince"):
        EarlyStopping.parse({"patince": 2})
    stop = EarlyStopping()
    stop.configure("val_loss", None, patience=2, min_delta=0.1)
    assert stop.mode == "min" and monitor_mode("val_dice") == "max"
    assert [stop.update({"val_loss": v}, e) for e, v in enumerate([1.0, 0.95, 0.5, 0.45, 0.44], 1)] == \
        [True, False, True, False, False]
    assert (stop.best_value, stop.best_epoch, stop.should_stop) == (0.5, 3, True)
    stop.configure("val_loss", None, patience=2)  # a new fit keeps the best value, restarts the count
    assert stop.best_value == 0.5 and not stop.should_stop
    with pytest.raises(ConfigError, match="monitor 'val_loss' is not in the history"):
        stop.update({"train_loss": 1.0}, 6)
    assert default_monitor("segmentation", ["dice"], True) == "val_dice"
    assert default_monitor("regression", ["mae"], True) == "val_loss" and default_monitor("x", [], False) == "train_loss"


def test_optimizer_and_scheduler_factories():
    net = torch.nn.Linear(3, 2)
    opt = build_optimizer("sgd", net.parameters(), lr=0.1, weight_decay=0.0)
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.9
    assert isinstance(build_optimizer(None, net.parameters(), lr=0.1, weight_decay=0.0), torch.optim.AdamW)
    for p in net.parameters():
        p.requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        build_optimizer(None, net.parameters(), lr=0.1, weight_decay=0.0)
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    one = build_scheduler("onecycle", opt, lr=1.0, max_epochs=2, total_steps=10)
    assert steps_per_batch(one) and not steps_per_batch(build_scheduler("cosine", opt, lr=1.0, max_epochs=2,
                                                                        total_steps=10))
    plateau = build_scheduler("plateau", opt, lr=1.0, max_epochs=2, total_steps=10, mode="max")
    assert plateau.mode == "max"
    for _ in range(plateau.patience + 2):
        step_epoch_end(plateau, 0.5)  # a flat monitored value lowers the learning rate
    assert opt.param_groups[0]["lr"] < 1.0
    with pytest.raises(ConfigError, match="cosine, onecycle, step, plateau"):
        build_scheduler("warmup", opt, lr=1.0, max_epochs=2, total_steps=10)


def test_rng_state_round_trip():
    seed_everything(7)
    state = rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
