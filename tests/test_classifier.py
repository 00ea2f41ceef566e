"""timm ConvNeXt-V2 classifier (Huang et al. 2024): build, forward, local-file init, clear errors."""

from __future__ import annotations

import pytest
import torch

from fasfast.models import ClassifierConfig, build_classifier, create_model

SIZE = 64  # ConvNeXt needs a multiple of 32; small for CPU


@pytest.fixture(scope="module")
def atto():
    torch.manual_seed(0)
    return build_classifier(ClassifierConfig(model_name="convnextv2_atto", image_size=SIZE)).eval()


def test_forward_shape_and_score(atto):
    x = torch.rand(3, 3, SIZE, SIZE)
    with torch.no_grad():
        logits = atto(x)
        score = atto.score(x)
    assert logits.shape == (3, 2) and bool(torch.isfinite(logits).all())
    torch.testing.assert_close(score, torch.softmax(logits, dim=1)[:, 1])
    assert bool(((score >= 0) & (score <= 1)).all())
    # normalisation happens inside: the backbone sees (x - mean) / std
    mean = torch.tensor(atto.config.mean).view(1, 3, 1, 1)
    std = torch.tensor(atto.config.std).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(atto.backbone((x - mean) / std), logits)


@pytest.mark.parametrize("wrapped", [False, True])
def test_init_from_local_file(atto, tmp_path, wrapped):
    path = tmp_path / "weights.pth"
    state = atto.state_dict() if wrapped else atto.backbone.state_dict()
    torch.save({"model": state} if wrapped else state, path)
    torch.manual_seed(123)  # a different random init, then overwritten by the file
    other = build_classifier(ClassifierConfig(image_size=SIZE, init=str(path))).eval()
    for (n, p), (_, q) in zip(atto.named_parameters(), other.named_parameters()):
        assert torch.equal(p, q), n
    x = torch.rand(2, 3, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(other(x), atto(x), atol=0, rtol=0)


def test_init_with_other_head_keeps_body(atto, tmp_path):
    path = tmp_path / "three_class.pth"
    three = build_classifier(ClassifierConfig(num_classes=3, image_size=SIZE))
    torch.save(three.backbone.state_dict(), path)
    with pytest.warns(
        UserWarning,
        match=r"loaded 138 of 140 .* skipped 2: "
        r"backbone.head.fc.weight \(shape \[3, 320\] in the file",
    ):
        two = build_classifier(ClassifierConfig(image_size=SIZE, init=str(path)))
    body = three.backbone.stem[0].weight
    assert torch.equal(two.backbone.stem[0].weight, body)
    assert not torch.equal(two.backbone.head.fc.weight, three.backbone.head.fc.weight[:2])
    assert sorted(two.init_report.skipped) == ["backbone.head.fc.bias", "backbone.head.fc.weight"]


def test_init_errors(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(FileNotFoundError, match="not found: .*nope.pth"):
        build_classifier(ClassifierConfig(image_size=SIZE, init=str(missing)))
    foreign = tmp_path / "foreign.pth"
    torch.save({"encoder.weight": torch.randn(2, 2)}, foreign)
    with pytest.raises(
        ValueError,
        match=r"foreign.pth fits only 0 of the \d+ weights of this "
        r"convnextv2_atto model .*another architecture.*missing key",
    ):
        build_classifier(ClassifierConfig(image_size=SIZE, init=str(foreign)))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="garbage.pth is not a PyTorch .* or safetensors"):
        build_classifier(ClassifierConfig(image_size=SIZE, init=str(garbage)))


def test_bad_config_and_input(atto):
    with pytest.raises(ValueError, match="unknown timm model 'convnextv9_atto'"):
        build_classifier(ClassifierConfig(model_name="convnextv9_atto"))
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        ClassifierConfig(num_classes=1)
    with pytest.raises(ValueError, match=r"expects \[B, 3, H, W\] .* got shape \[2, 1, 64, 64\]"):
        atto(torch.rand(2, 1, SIZE, SIZE))
    with pytest.raises(TypeError, match="floating-point input"):
        atto(torch.zeros(1, 3, SIZE, SIZE, dtype=torch.uint8))


def test_create_model_and_config_round_trip():
    cfg = ClassifierConfig(model_name="convnextv2_atto", image_size=96, drop_path_rate=0.0)
    assert ClassifierConfig.from_dict(cfg.to_dict()) == cfg
    model = create_model("convnextv2_atto", image_size=96, num_classes=2)
    assert model.config.model_name == "convnextv2_atto"
    assert model(torch.rand(1, 3, 96, 96)).shape == (1, 2)
