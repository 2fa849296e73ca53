"""Real PyTorch is the judge: the shipped examples misbehave as the diagnostics say,
and after `torch-lsp check --fix --unsafe-fixes` they behave and check clean."""
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch is an optional extra; these tests check claims against real torch")

from torch_lsp.cli import main  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_examples_misbehave_as_reported():
    vit = load(EXAMPLES / "vit_tiny.py", "ex_vit")
    assert "pos_embed" not in vit.PatchEmbed().state_dict()  # TL101
    assert not any(n.startswith("layers") for n, _ in vit.Encoder().named_parameters())  # TL102
    head = vit.ContrastiveHead()
    assert "log_temp" not in dict(head.named_parameters()) and head.log_temp.requires_grad  # TL101 (error)
    utils = load(EXAMPLES / "training_utils.py", "ex_utils")
    with pytest.raises(AttributeError, match="cannot assign module before Module.__init__"):  # TL104
        utils.Classifier(4, 2)
    assert len(list(utils.DomainAdapter(["a", "b"]).parameters())) == 2  # TL103: only the encoder's
    lenet = load(EXAMPLES / "lenet.py", "ex_lenet")
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):  # TL203
        lenet.LeNet()(torch.randn(4, 3, 32, 32))


def test_fixed_examples_behave_and_check_clean(tmp_path, capsys):
    work = tmp_path / "examples"
    shutil.copytree(EXAMPLES, work)
    assert main(["check", "--fix", "--unsafe-fixes", "--no-progress", str(work)]) == 0
    capsys.readouterr()
    assert main(["check", "--format", "concise", str(work)]) == 0
    assert capsys.readouterr().out.strip() in ("", "All checks passed!")

    vit = load(work / "vit_tiny.py", "fixed_vit")
    assert "pos_embed" in vit.PatchEmbed().state_dict()
    enc = vit.Encoder(depth=2)
    assert any(n.startswith("layers.1.") for n, _ in enc.named_parameters())
    enc.eval()
    assert not enc.layers[0].training  # eval() now reaches the layers
    assert "log_temp" in dict(vit.ContrastiveHead().named_parameters())
    out = vit.Encoder()(vit.PatchEmbed()(torch.randn(2, 3, 32, 32)))
    assert out.shape == (2, 64, 64)

    utils = load(work / "training_utils.py", "fixed_utils")
    assert utils.Classifier(4, 2)(torch.randn(3, 4)).shape == (3, 2)
    adapter = utils.DomainAdapter(["a", "b"])
    assert sorted(n for n, _ in adapter.named_parameters() if n.startswith("domain_bias")) == ["domain_bias.a", "domain_bias.b"]
    assert utils.class_weights().dtype == torch.float32

    lenet = load(work / "lenet.py", "fixed_lenet")
    model = lenet.LeNet()
    assert "nn.Linear(400, 120)" in (work / "lenet.py").read_text()  # TL203's fix states the size
    loss = lenet.train_step(model, torch.optim.SGD(model.parameters(), lr=0.01))  # TL301 fixed: runs
    assert model.fc1.weight.grad is not None and loss.shape == (4,)  # backward ran on the reduced loss
