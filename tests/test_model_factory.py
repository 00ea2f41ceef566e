"""The one model factory: ``models.create_model`` builds from a name or a config, and a
training config and a checkpoint's stored config reach the same model through it."""

from __future__ import annotations

import pytest
import torch

from fasfast.models import (
    MODEL_KINDS,
    ClassifierConfig,
    EulerNet,
    EulerNetConfig,
    config_from_dict,
    create_model,
    model_config,
)

SMALL = dict(image_size=32, widths=(4, 6, 4), frames=2)


def test_name_and_config_build_the_same_model():
    torch.manual_seed(0)
    by_name = create_model("eulernet", preset="C4", **SMALL)
    cfg = model_config("eulernet", preset="C4", **SMALL)
    by_config = create_model(cfg)
    assert isinstance(by_config, EulerNet) and by_config.config == by_name.config
    assert by_config.state_dict().keys() == by_name.state_dict().keys()
    with pytest.raises(TypeError, match="takes no keyword arguments"):
        create_model(cfg, frames=3)


def test_train_config_and_checkpoint_config_agree():
    from fasfast.engine import TrainConfig
    from fasfast.engine.training import setup_model

    tc = TrainConfig(preset="C2", image_size=32, widths=(4, 6, 4), length=2).resolved()
    model, kind, mcfg = setup_model(tc)
    assert kind == "eulernet" and kind in MODEL_KINDS and model.config == mcfg
    stored = mcfg.to_dict()  # what a checkpoint keeps
    assert config_from_dict(kind, stored) == mcfg
    assert create_model(config_from_dict(kind, stored)).config == mcfg


def test_config_from_dict_kinds():
    d = ClassifierConfig(image_size=64).to_dict()
    d["from_an_older_version"] = 1  # a classifier's unknown keys are ignored
    assert config_from_dict("classifier", d) == ClassifierConfig(image_size=64)
    with pytest.raises(ValueError, match="unknown EulerNetConfig field"):
        config_from_dict("eulernet", {**EulerNetConfig().to_dict(), "nope": 1})
    with pytest.raises(ValueError, match="unknown model kind 'resnet'"):
        config_from_dict("resnet", {})
