"""Builders with configuration objects: data classes (PEP 557, PEP 681
``dataclass_transform`` bases as transformers' configs, NamedTuple) are built from
their fields and ``__post_init__``; their classes are found in other project files
and in installed packages (located without importing them); a base class's
``__init__`` of another file that is not run still stores what it surely stores
(``self.config = config``). Every case was run under torch (2.13): the comments
say what it did."""
from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from torch_lsp.engine import check_source
from torch_lsp.analysis.project import Project

CONFIGURATION_UTILS = """
from dataclasses import dataclass
from typing import ClassVar

try:
    from typing import dataclass_transform
except ImportError:  # Python < 3.11
    from typing_extensions import dataclass_transform


@dataclass_transform(kw_only_default=True)
@dataclass(kw_only=True)
class BaseConfig:
    model_type: ClassVar[str] = ""
    return_dict: bool = True

    def __post_init__(self):
        self.ready = True
"""

CONFIGURATION_TINY = """
from dataclasses import dataclass

from .configuration_utils import BaseConfig


@dataclass(kw_only=True)
class TinyConfig(BaseConfig):
    model_type = "tiny"
    hidden_size: int = 768
    num_attention_heads: int = 12
    num_hidden_layers: int = 12
    head_dim: int | None = None

    def __post_init__(self):
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        super().__post_init__()
"""

# huggingface_hub's `@strict(accept_kwargs=True)` and transformers' config base, in
# small: keywords that are no field go to `__post_init__`, which stores them through
# `__setattr__` (renamed by `attribute_map`); `num_labels` is a property with a setter.
CONFIGURATION_LOOSE = """
import dataclasses
from dataclasses import dataclass
from typing import ClassVar

try:
    from typing import dataclass_transform
except ImportError:  # Python < 3.11
    from typing_extensions import dataclass_transform


def strict(cls=None, *, accept_kwargs=False):
    def wrap(cls):
        if accept_kwargs:
            def __init__(self, **kwargs):
                fields = dataclasses.fields(cls)
                for f in fields:
                    setattr(self, f.name, kwargs.get(f.name, f.default))
                names = {f.name for f in fields}
                self.__post_init__(**{k: v for k, v in kwargs.items() if k not in names})
            cls.__init__ = __init__
        return cls
    return wrap if cls is None else wrap(cls)


@dataclass_transform(kw_only_default=True)
@strict(accept_kwargs=True)
@dataclass(kw_only=True)
class LooseConfig:
    attribute_map: ClassVar[dict] = {}
    id2label: dict | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        strict(dataclass(kw_only=True)(cls), accept_kwargs=True)  # as transformers' configs are made

    def __post_init__(self, **kwargs):
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __setattr__(self, key, value):
        super().__setattr__(type(self).attribute_map.get(key, key), value)

    def __getattribute__(self, key):
        if key != "attribute_map" and key in type(self).attribute_map:
            key = type(self).attribute_map[key]
        return super().__getattribute__(key)

    @property
    def num_labels(self):
        return len(self.id2label) if self.id2label is not None else None

    @num_labels.setter
    def num_labels(self, n):
        self.id2label = {i: f"LABEL_{i}" for i in range(n)}


class GptConfig(LooseConfig):
    attribute_map = {"hidden_size": "n_embd"}
    n_embd: int = 768
    n_layer: int = 12
"""

# transformers' model outputs, in small: a data class whose base writes its own
# __init__ (the generated one of the subclass wins), in a file too large to follow
# whole (padded past the 800-line limit below).
MODELING_OUTPUTS = """
from collections import OrderedDict
from dataclasses import dataclass

import torch


class ModelOutput(OrderedDict):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)


@dataclass
class BaseOutput(ModelOutput):
    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
""" + "\n# (padding: a large file)" * 820

MODELING_UTILS = """
import torch.nn as nn

from .configuration_utils import BaseConfig


class PreTrained(nn.Module):
    def __init__(self, config, *inputs, **kwargs):
        super().__init__()
        if not isinstance(config, BaseConfig):
            raise TypeError("config must be a BaseConfig")
        self.config = config
        self.name = type(self).__name__

    def post_init(self):
        out, inp = getattr(self, "lm_head", None), getattr(self, "embed", None)
        if out is not None and inp is not None:
            out.weight = inp.weight  # tied, as transformers ties output to input embeddings
"""

# Run for real (fakepkg on the path): build()(torch.randint(0, 99, (2, 5))) raises
# "The size of tensor a (32) must match the size of tensor b (64) at non-singleton
# dimension 2" at `x + self.mlp(x)`.
MODEL = """
import torch
import torch.nn as nn
from fakepkg.configuration_tiny import TinyConfig
from fakepkg.modeling_utils import PreTrained


class Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.head_dim = config.head_dim
        self.q = nn.Linear(config.hidden_size, config.num_attention_heads * config.head_dim)
        self.o = nn.Linear(config.num_attention_heads * config.head_dim, config.hidden_size)

    def forward(self, x):
        return self.o(self.q(x))


class Layer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attn = Attention(config)
        self.mlp = nn.Linear(config.hidden_size, config.hidden_size * 2)

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


class Model(PreTrained):
    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(99, config.hidden_size)
        self.layers = nn.ModuleList([Layer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, input_ids: torch.LongTensor | None = None, mask: torch.Tensor | None = None):
        x = self.embed(input_ids)
        for layer in self.layers[: self.config.num_hidden_layers]:
            x = layer(x)
        return x


def build():
    return Model(TinyConfig(hidden_size=32, num_attention_heads=4, num_hidden_layers=2))
"""


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """``fakepkg`` installed in a site directory of its own (on sys.path, as pip would
    put it), and a project directory for the checked files."""
    site = tmp_path / "site"
    pkg = site / "fakepkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name, text in (("configuration_utils.py", CONFIGURATION_UTILS), ("configuration_tiny.py", CONFIGURATION_TINY),
                       ("modeling_utils.py", MODELING_UTILS), ("configuration_loose.py", CONFIGURATION_LOOSE), ("modeling_outputs.py", MODELING_OUTPUTS)):
        (pkg / name).write_text(text.lstrip())
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    yield proj
    sys.modules.pop("fakepkg", None)


def check(proj, text: str, name: str = "model.py") -> list[tuple[str, int]]:
    path = proj / name
    path.write_text(textwrap.dedent(text).lstrip())
    result = check_source(path.read_bytes(), str(path), project=Project([str(proj)], use_jedi=False))
    return [(d.code, d.range.start.line + 1) for d in result.diagnostics if d.code.startswith(("TL1", "TL2", "TL3"))]


def test_an_installed_config_class_gives_the_builder_its_sizes(installed):
    assert check(installed, MODEL) == [("TL206", 26)]
    # Run for real: with `hidden_size` out of the MLP the model runs.
    assert check(installed, MODEL.replace("config.hidden_size * 2", "config.hidden_size")) == []


def test_post_init_computes_a_field(installed):
    # head_dim is None by default; TinyConfig.__post_init__ makes it 32 // 4 = 8. Run for
    # real: `self.o` taking 8 * 8 = 64 features of a 4 * 8 = 32-feature q raises "mat1 and
    # mat2 shapes cannot be multiplied (10x32 and 64x32)".
    text = MODEL.replace("config.hidden_size * 2", "config.hidden_size").replace(
        "nn.Linear(config.num_attention_heads * config.head_dim, config.hidden_size)",
        "nn.Linear(config.head_dim * 8, config.hidden_size)")
    assert check(installed, text) == [("TL201", 12)]
    # Without the builder's values (a splat of unknown options) nothing is provable:
    # num_attention_heads may be 8.
    assert check(installed, text.replace("TinyConfig(hidden_size=32, num_attention_heads=4, num_hidden_layers=2)",
                                         "TinyConfig(**OPTIONS)")) == []
    # Run for real: with num_attention_heads=8 (head_dim 4) the model runs.
    assert check(installed, text.replace("num_attention_heads=4", "num_attention_heads=8")) == []


@pytest.mark.parametrize("call", [
    "TinyConfig(hidden=32, num_attention_heads=4, num_hidden_layers=2)",  # TypeError: unexpected keyword
    "TinyConfig(32, 4, 2)",  # TypeError: keyword-only fields
    "TinyConfig(**OPTIONS)",  # a splat of a dict not known here
])
def test_a_config_call_not_modelled_leaves_every_field_unknown(installed, call):
    text = MODEL.replace("TinyConfig(hidden_size=32, num_attention_heads=4, num_hidden_layers=2)", call)
    assert call in text
    assert check(installed, text) == []


def test_a_base_init_not_run_stores_what_it_surely_stores(installed, tmp_path):
    # A base class's __init__ of another file is not run (transformers' PreTrainedModel);
    # what it surely stores from its parameters (`self.config = config`) is stored all the
    # same, which is what makes `self.config.num_hidden_layers` known (the model above).
    # A base that may return before storing it gives nothing.
    pkg = tmp_path / "site" / "fakepkg" / "modeling_utils.py"
    pkg.write_text(MODELING_UTILS.lstrip().replace("        self.config = config",
                                                   "        if kwargs:\n            return\n        self.config = config"))
    assert check(installed, MODEL) == []


SAME_FILE = """
import typing
from dataclasses import dataclass, field

import torch
import torch.nn as nn


@dataclass
class Cfg:
    dim: int = 64
    hidden: int = 128
    tags: list = field(default_factory=list)


class Point(typing.NamedTuple):
    dim: int
    hidden: int = 128


class Mlp(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.up = nn.Linear(cfg.dim, cfg.hidden)
        self.down = nn.Linear(64, cfg.dim)

    def forward(self, x):
        return self.down(self.up(x))


def build():
    return Mlp(Cfg(dim=16))
"""


def test_a_dataclass_of_the_same_file(tmp_path):
    # Run for real: build()(torch.randn(2, 16)) raises "mat1 and mat2 shapes cannot be
    # multiplied (2x128 and 64x16)"; so do Mlp(Cfg(16, 32)) (2x32 and 64x16) and
    # Mlp(Point(16)). Without the builder's values nothing is provable (hidden may be 64).
    assert check(tmp_path, SAME_FILE) == [("TL201", 24)]
    assert check(tmp_path, SAME_FILE.replace("Cfg(dim=16)", "Cfg(16, 32)")) == [("TL201", 24)]
    assert check(tmp_path, SAME_FILE.replace("Cfg(dim=16)", "Point(16)")) == [("TL201", 24)]
    # Point() misses a required field (TypeError); Cfg(16, 32, [], 5) has one argument
    # too many (TypeError): neither is modelled, nothing is known.
    assert check(tmp_path, SAME_FILE.replace("Cfg(dim=16)", "Point()")) == []
    assert check(tmp_path, SAME_FILE.replace("Cfg(dim=16)", "Cfg(16, 32, [], 5)")) == []
    # Run for real: with hidden=64 the model runs.
    assert check(tmp_path, SAME_FILE.replace("Cfg(dim=16)", "Cfg(dim=16, hidden=64)")) == []


PROPERTY = """
import torch
import torch.nn as nn


class Cfg:
    def __init__(self, dim):
        self.dim = dim

    @property
    def hidden(self):
        return self.dim * 2


class Net(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.a = nn.Linear(cfg.dim, cfg.hidden)
        self.b = nn.Linear(cfg.dim * 3, 4)

    def forward(self, x):
        return self.b(self.a(x))


def build():
    return Net(Cfg(8))
"""


def test_a_property_read_runs_its_getter(tmp_path):
    # Run for real: build()(torch.randn(2, 8)) raises "mat1 and mat2 shapes cannot be
    # multiplied (2x16 and 24x4)" (cfg.hidden is 16). A property was read as a bound
    # method before (a truthy function, no size).
    assert check(tmp_path, PROPERTY) == [("TL201", 18)]
    assert check(tmp_path, PROPERTY.replace("cfg.dim * 3", "cfg.dim * 2")) == []


KWARGS = """
import torch
import torch.nn as nn


class Block(nn.Module):
    def forward(self, x, groups=4, **kwargs):
        return x.view(-1, groups, 2).flatten(1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(3, 8)
        self.block = Block()
        self.head = nn.Linear(16, 2)

    def forward(self, x, **kwargs):
        return self.head(self.block(self.inp(x), **kwargs))


def build():
    return Net()
"""


def test_a_kwargs_parameter_holds_the_calls_extra_keywords(tmp_path):
    # The builder calls model(x): its **kwargs is empty, so Block gets groups=4. Run for
    # real: build()(torch.randn(5, 3)) raises "mat1 and mat2 shapes cannot be multiplied
    # (5x8 and 16x2)". Net analysed on its own (any call, any keywords) proves nothing.
    assert check(tmp_path, KWARGS) == [("TL203", 15)]
    assert check(tmp_path, KWARGS.replace("def build():\n    return Net()\n", "")) == []


SIZE_OF = """
import torch
import torch.nn as nn


class Embed(nn.Module):
    def __init__(self):
        super().__init__()
        self.words = nn.Embedding(99, 32)
        self.types = nn.Embedding(2, 16)

    def forward(self, input_ids: torch.LongTensor | None = None, token_type_ids=None):
        input_shape = input_ids.size()
        batch_size, seq_length = input_shape
        if token_type_ids is None:
            token_type_ids = torch.zeros(input_shape, dtype=torch.long)
        return self.words(input_ids) + self.types(token_type_ids)


def build():
    return Embed()
"""


def test_sizes_of_a_tensor_whose_rank_becomes_known(tmp_path):
    # BERT's embeddings: `input_shape = input_ids.size()`, unpacked into two names (the
    # rank is 2 from then on), then `torch.zeros(input_shape)`. The builder calls
    # model(input_ids) (annotated as a tensor, defaulting to None). Run for real:
    # build()(torch.randint(0, 99, (2, 5))) raises "The size of tensor a (32) must match
    # the size of tensor b (16) at non-singleton dimension 2".
    assert check(tmp_path, SIZE_OF) == [("TL206", 16)]
    assert check(tmp_path, SIZE_OF.replace("nn.Embedding(2, 16)", "nn.Embedding(2, 32)")) == []


GETATTR = """
import torch
import torch.nn as nn
from dataclasses import dataclass


@dataclass
class Cfg:
    hidden_size: int = 32
    num_attention_heads: int = 4
    head_dim: int = 16


class Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.head_dim = getattr(config, "head_dim", config.hidden_size // config.num_attention_heads)
        self.q = nn.Linear(config.hidden_size, config.num_attention_heads * self.head_dim)
        self.o = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x):
        return self.o(self.q(x))


def build():
    return Attention(Cfg())
"""


def test_getattr_of_a_configuration_field(tmp_path):
    # Llama's `getattr(config, "head_dim", hidden // heads)`: the field is there (16), so
    # q gives 4 * 16 = 64 features to o, which takes 32. Run for real: build()(torch.randn(2,
    # 32)) raises "mat1 and mat2 shapes cannot be multiplied (2x64 and 32x32)"; with
    # head_dim 8 it runs.
    assert check(tmp_path, GETATTR) == [("TL201", 18)]
    assert check(tmp_path, GETATTR.replace("head_dim: int = 16", "head_dim: int = 8")) == []


TIED = """
import torch
import torch.nn as nn
from fakepkg.configuration_tiny import TinyConfig
from fakepkg.modeling_utils import PreTrained


class LM(PreTrained):
    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(99, config.hidden_size)
        self.lm_head = nn.Linear(config.hidden_size, 100, bias=False)
        self.register_buffer("bias", torch.zeros(1, 99))
        self.post_init()

    def forward(self, input_ids: torch.LongTensor | None = None):
        return self.lm_head(self.embed(input_ids)) + self.bias


def build():
    return LM(TinyConfig(hidden_size=32))
"""


def test_a_method_not_seen_in_init_may_tie_an_output_linear(installed):
    # PreTrained.post_init (another file's, not run) gives lm_head the embedding's weight
    # [99, 32]: the Linear declared with 100 outputs gives 99. Run for real:
    # build()(torch.randint(0, 99, (2, 5))) runs. Without the post_init call it raises
    # "The size of tensor a (100) must match the size of tensor b (99) at non-singleton
    # dimension 2".
    assert check(installed, TIED) == []
    assert check(installed, TIED.replace("        self.post_init()\n", "")) == [("TL206", 15)]


LOOSE_MODEL = """
import torch
import torch.nn as nn
from fakepkg.configuration_loose import GptConfig


class Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed = nn.Embedding(99, config.hidden_size)
        self.head = nn.Linear(64, config.num_labels)

    def forward(self, input_ids: torch.LongTensor | None = None):
        return self.head(self.embed(input_ids))


def build():
    return Model(GptConfig(n_embd=32, num_labels=3))
"""


@pytest.mark.parametrize("call, expected", [
    # Run for real (fakepkg on the path) on randint(0, 99, (2, 5)): "mat1 and mat2 shapes
    # cannot be multiplied (10x32 and 64x3)"; `num_labels` is no field, the config
    # stores it (its setter fills id2label) and reads it back: 3.
    ("GptConfig(n_embd=32, num_labels=3)", [("TL201", 10)]),
    # `hidden_size` is no field either: `__setattr__` renames it to `n_embd` (same error).
    ("GptConfig(hidden_size=32, num_labels=3)", [("TL201", 10)]),
    # n_embd 64: runs.
    ("GptConfig(hidden_size=64, num_labels=3)", []),
    ("GptConfig(n_embd=64, id2label={0: \"a\", 1: \"b\"})", []),
])
def test_keywords_that_are_no_fields_go_where_the_config_stores_them(installed, call, expected):
    assert check(installed, LOOSE_MODEL.replace("GptConfig(n_embd=32, num_labels=3)", call)) == expected


def test_a_config_that_renames_attributes_in_a_way_not_read_leaves_them_unknown(installed, tmp_path):
    # The same config whose attribute_map is computed: where `hidden_size` goes is not
    # known, so nothing is (the run still raises with n_embd=32).
    pkg = tmp_path / "site" / "fakepkg" / "configuration_loose.py"
    pkg.write_text(CONFIGURATION_LOOSE.lstrip().replace('attribute_map = {"hidden_size": "n_embd"}',
                                                        'attribute_map = dict(hidden_size="n_embd")'))
    assert check(installed, LOOSE_MODEL.replace("GptConfig(n_embd=32, num_labels=3)",
                                                "GptConfig(hidden_size=32, num_labels=3)")) == []


OUTPUTS_MODEL = """
import torch
import torch.nn as nn
from fakepkg.modeling_outputs import BaseOutput
from fakepkg.configuration_tiny import TinyConfig
from fakepkg.modeling_utils import PreTrained


class Encoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.patch = nn.Conv2d(3, config.hidden_size, 8, stride=8)
        self.norm = nn.LayerNorm(config.hidden_size)

    def forward(self, pixel_values):
        x = self.patch(pixel_values).flatten(2).transpose(1, 2)
        return BaseOutput(last_hidden_state=self.norm(x))


class Classifier(PreTrained):
    def __init__(self, config):
        super().__init__(config)
        self.encoder = Encoder(config)
        self.classifier = nn.Linear(config.hidden_size * 2, 5)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor | None = None):
        outputs = self.encoder(pixel_values)
        return self.classifier(outputs.last_hidden_state[:, 0, :])


def build():
    return Classifier(TinyConfig(hidden_size=32, num_attention_heads=4, num_hidden_layers=2))
"""


def test_a_model_output_of_a_large_file_holds_its_fields(installed):
    # Run for real (fakepkg on the path): build()(torch.randn(2, 3, 32, 32)) raises "mat1
    # and mat2 shapes cannot be multiplied (2x32 and 64x5)". The output class is a data
    # class of a file too large to follow (its fields are read from the outline); the
    # post_init this file does not run cannot tie the classifier to anything: the model
    # has no Embedding.
    assert check(installed, OUTPUTS_MODEL) == [("TL201", 23)]
    assert check(installed, OUTPUTS_MODEL.replace("config.hidden_size * 2, 5", "config.hidden_size, 5")) == []
    # With an Embedding in the model, post_init may tie the classifier to it: not proven.
    with_embedding = OUTPUTS_MODEL.replace("        self.post_init()",
                                           "        self.embed = nn.Embedding(99, 32)\n        self.post_init()")
    assert check(installed, with_embedding) == []
