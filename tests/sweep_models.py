"""The model sweep of tests/test_sweep.py (issue 17, item 6): every model type that
transformers registers, built from a shrunk config, and the smallest variant of every timm
family, each checked with ``fastinit.deferred_init`` + ``materialize_`` against two eager
builds (``torch.manual_seed(0)`` and ``(1)``).

Run as a worker: ``python tests/sweep_models.py hf|timm NAME...`` prints one JSON line per
model: ``{"name", "status", "msg", "level", "params", "forward"}`` with status one of
``pass``, ``raise`` (a DeferredInitError: the message names the op and the tensor),
``fail`` (any other difference from eager; the message says which) or ``skip`` (the eager
build itself cannot be made here: a missing package, a download, no model class). Each
chunk runs in its own process: timm needs a stand-in torchvision (see test_clients.py), and
a model that crashes the interpreter takes only its chunk with it.

``python tests/sweep_models.py summary RESULTS.jsonl`` prints the counts of a whole run
(``FASTINIT_SWEEP_RESULTS=RESULTS.jsonl python -m pytest -m sweep tests/test_sweep.py``).

``python tests/sweep_models.py select-timm`` prints the smallest variant of every timm
family (the module of the entrypoint; fewest parameters, built on meta, ties by name):
the source of ``TIMM_SMALLEST`` below.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback

_HERE = os.path.dirname(os.path.abspath(__file__))

P_MIN = 1e-6
KS_MIN_ELEMENTS = 1000
#: the KS test compares at most this many elements of a tensor: the same evenly strided
#: positions in ours and eager's, spanning the whole tensor (sorting every element of an
#: 86M-parameter model took 20 s of the sweep's time)
KS_MAX_ELEMENTS = 200_000
EAGER_SEEDS = (0, 1)
THREADS = int(os.environ.get("FASTINIT_SWEEP_THREADS", "1"))
SEED = 5
#: a model above this many parameters (built on meta) is not built eagerly at that
#: shrink level: four builds of it would not fit the sweep's time
MAX_PARAMS = 5_000_000
#: where no shrink gets under MAX_PARAMS (a codec whose convolution stack the config does
#: not size by any width), the smallest build under this is checked instead
MAX_PARAMS_LAST = 30_000_000

#: transformers types whose model code needs timm: transformers counts timm as available
#: only with torchvision (``is_timm_available``), which does not load beside torch's CPU
#: wheel here; their worker runs with the torchvision stand-in (timm's model code only)
HF_TORCHVISION_STANDIN = ("conditional_detr", "dab-detr", "deformable_detr", "detr", "edgetam",
                          "edgetam_vision_model", "fast_vlm", "gemma3n", "gemma3n_vision", "omdet-turbo",
                          "pe_audio_video", "pe_audio_video_encoder", "pe_video", "pe_video_encoder",
                          "perception_lm", "table-transformer", "timm_backbone", "timm_wrapper")


from helpers import named_tensors  # noqa: E402
from torchvision_standin import install as install_torchvision_standin  # noqa: E402


# --- transformers: types, classes, shrunk configs ----------------------------------------

# the base model first; where a type has none, the first of these mappings that has it
_HF_MAPPINGS = ("MODEL_MAPPING_NAMES", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_MASKED_LM_MAPPING_NAMES",
                "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES",
                "MODEL_FOR_MULTIMODAL_LM_MAPPING_NAMES", "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES",
                "MODEL_FOR_BACKBONE_MAPPING_NAMES", "MODEL_FOR_PRETRAINING_MAPPING_NAMES")


def hf_types():
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    return sorted(CONFIG_MAPPING.keys())


def hf_class_name(model_type):
    from transformers.models.auto import modeling_auto as ma
    for m in _HF_MAPPINGS:
        name = getattr(ma, m).get(model_type)
        if name:
            return name if isinstance(name, str) else name[0]
    for m in sorted(n for n in dir(ma) if n.endswith("_MAPPING_NAMES") and n != "CONFIG_MAPPING_NAMES"):
        name = getattr(ma, m).get(model_type)
        if name:
            return name if isinstance(name, str) else name[0]
    return None


def hf_sub_class(model_type):
    """For a sub-config with no class in any auto mapping (``AlignTextConfig``): its model
    class in the config's own modeling module, by Hugging Face's naming convention
    (``AlignTextModel``, ``...ForCausalLM``, the bare stem...), else the one class there
    whose ``config_class`` is it or whose ``__init__`` takes it. None if there is none."""
    import importlib
    import inspect
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    cc = CONFIG_MAPPING[model_type]
    pkg = cc.__module__.rsplit(".", 1)[0]
    try:
        mm = importlib.import_module(f"{pkg}.modeling_{pkg.rsplit('.', 1)[1]}")
    except ImportError:
        return None
    stem = cc.__name__[:-len("Config")]
    for suffix in ("Model", "", "ForCausalLM", "Encoder", "Decoder", "ForConditionalGeneration", "Transformer",
                   "VisionModel", "TextModel"):
        c = getattr(mm, stem + suffix, None)
        if inspect.isclass(c):
            return c
    import torch
    mods = [c for _, c in inspect.getmembers(mm, inspect.isclass)
            if issubclass(c, torch.nn.Module) and c.__module__ == mm.__name__]
    for c in mods:
        if getattr(c, "config_class", None) is cc:
            return c
    for c in mods:
        params = list(inspect.signature(c.__init__).parameters.values())[1:2]
        if params and cc.__name__ in str(params[0].annotation):
            return c
    return None


_WIDTH = {"hidden_size", "d_model", "n_embd", "embed_dim", "dim", "hidden_dim", "embedding_size", "d_embed",
          "word_embed_proj_dim", "projection_dim", "n_embed", "model_dim", "emb_dim"}
_INTER = {"intermediate_size", "d_ff", "ffn_dim", "encoder_ffn_dim", "decoder_ffn_dim", "n_inner", "ffn_hidden_size",
          "moe_intermediate_size", "shared_expert_intermediate_size", "expert_intermediate_size",
          "mlp_dim", "inner_dim", "dim_feedforward", "feedforward_dim", "intermediate_dim"}
_LAYERS = {"num_hidden_layers", "num_layers", "n_layer", "n_layers", "encoder_layers", "decoder_layers",
           "num_decoder_layers", "num_encoder_layers", "depth", "num_blocks", "n_blocks", "text_layers",
           "vision_layers", "num_transformer_layers"}
_HEADS = {"num_attention_heads", "n_head", "n_heads", "encoder_attention_heads", "decoder_attention_heads",
          "num_heads", "attention_heads"}
_KV_HEADS = {"num_key_value_heads", "n_kv_heads", "num_kv_heads", "multi_query_group_num"}
_EXPERTS = {"num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts", "n_experts"}
_VOCAB = {"vocab_size", "n_vocab", "target_vocab_size"}


def _cut_layers(d, old, new, kinds):
    """Cuts the per-layer lists of ``d`` (those of length ``old``) to ``new`` layers; keeps
    one layer of each kind a list names (hybrid models validate that every layer type
    appears: ``layer_types`` with a ``full_attention``, mamba + attention: lists of
    strings), so the cut may keep more than ``new``, where ``kinds``. Returns the number
    kept."""
    keep = list(range(new))
    for k, v in d.items():
        if kinds and isinstance(v, list) and len(v) == old and all(isinstance(x, str) for x in v):
            seen = {repr(v[i]) for i in keep}
            for i, x in enumerate(v):
                if repr(x) not in seen:
                    seen.add(repr(x))
                    keep.append(i)
    keep = sorted(set(keep))
    for k, v in list(d.items()):
        if isinstance(v, list) and len(v) == old and k not in ("depths",):
            d[k] = [v[i] for i in keep]
    # backbones name their outputs by stage: the defaults (the last stage) fit any depth
    for k in ("out_features", "out_indices"):
        d.pop(k, None)
    if isinstance(d.get("per_layer_config"), dict):
        d["per_layer_config"] = {k: v for k, v in d["per_layer_config"].items() if int(k) < len(keep)}
    # a count of special layers among them (gemma3n's num_kv_shared_layers: the last 15
    # reuse earlier layers' caches) that no longer fits: none
    for k, v in list(d.items()):
        if (isinstance(k, str) and k.startswith("num_") and k.endswith("_shared_layers")
                and isinstance(v, int) and not isinstance(v, bool) and v >= len(keep)):
            d[k] = 0
    return len(keep)


def _fix_ids(d):
    """Token ids and routing counts that must fit the shrunk vocab and experts."""
    vocab = d.get("vocab_size")
    if isinstance(vocab, int):
        for k, v in list(d.items()):
            if (k.endswith("_token_id") or k.endswith("_token_index")) and isinstance(v, int) and v >= vocab:
                d[k] = vocab - 1 - (hash(k) % 8)
            elif k.endswith("_token_id") and isinstance(v, list):
                d[k] = [x if not isinstance(x, int) or x < vocab else vocab - 1 for x in v]
    for k in ("num_experts_per_tok", "moe_topk", "top_k", "num_selected_experts"):
        if isinstance(d.get(k), int) and d[k] > 2:
            d[k] = 2
    if isinstance(d.get("n_group"), int):
        d["n_group"], d["topk_group"] = 1, 1
    if d.get("prediction_length", 0) is None:  # time-series configs: no default horizon
        d["prediction_length"] = 8


def _is_sub(v):
    return isinstance(v, dict) and ("model_type" in v or any(x in v for x in _LAYERS | _WIDTH))


def _clamp_length_or_image(d, k, v) -> bool:
    """Sequence lengths to 512, an image size to 4 patches (64 without a patch size);
    whether ``k`` is one of them (and was too large)."""
    if k in ("max_position_embeddings", "n_positions", "max_seq_len") and v > 512:
        d[k] = 512
        return True
    if k == "image_size" and v > 64:
        p = d.get("patch_size")
        d[k] = 4 * p if isinstance(p, int) and 0 < p <= 32 else 64
        return True
    return False


def _shrink_dict(d, level, kinds=False):
    """Shrinks one config's dict (sub-config dicts too) in place. level 0: widths, heads,
    layers, vocab, experts, images; 1: layers, vocab, experts; 2: layers only; ``kinds``:
    the layers kept include one of each kind (``_cut_layers``)."""
    n_layers = None
    for k, v in list(d.items()):
        if _is_sub(v):
            _shrink_dict(v, level, kinds)
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, list) and v and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                if k == "depths":
                    d[k] = [1] * len(v)
                elif level == 0 and k in _HEADS:
                    d[k] = [1] * len(v)  # one head divides any width
            continue
        if k in _LAYERS and v > 2 and not isinstance(d.get("depths"), list):
            d[k] = 2
            n_layers = n_layers or (v, [])
            n_layers[1].append(k)
        elif level <= 1 and k in _EXPERTS and v > 4:
            d[k] = 4
        elif level <= 1 and (k in _VOCAB or (isinstance(k, str) and "vocab" in k)) and v > 512:
            d[k] = 512  # vocab_size_per_layer_input, text_vocab_size, hash byte-group vocabs too
        elif level == 0:
            if k in _WIDTH and v > 64:
                d[k] = 64
            elif k in _INTER and v > 128:
                d[k] = 128
            elif k in _HEADS and v > 4:
                d[k] = 4
            elif k in _KV_HEADS and v > 2:
                d[k] = 2
            elif k == "head_dim" and v > 16:
                d[k] = 16
            elif _clamp_length_or_image(d, k, v):
                pass
    if level <= 1:
        _fix_ids(d)
    elif d.get("prediction_length", 0) is None:
        d["prediction_length"] = 8
    if n_layers is not None:
        kept = _cut_layers(d, n_layers[0], 2, kinds)
        for k in n_layers[1]:
            d[k] = kept
    return d


import re  # noqa: E402

# a width: every int under such a key is divided by the same factor, so the config's
# equalities between widths (vision out == text hidden, hidden * expand == heads *
# head_dim, d_head == d_model // n_head) and their ratios still hold; head counts stay;
# group counts (GroupNorm's 32, a depthwise conv's groups == channels) are divided too:
# channels % groups == 0 still holds
_SCALED = re.compile(r"hidden|_dim$|^dim$|_dims$|^dims$|size|channels|embed|width|d_model|n_embd|inner|ffn|filters|"
                     r"features|^d_|_d_|latent|mrope_section|proj|groups$")
_NOT_SCALED = re.compile(r"vocab|image|patch|position|seq|window|length|kernel|stride|^num_|^n_|sample|bins|mel|"
                         r"codebook_size|token|layer|(?<!d_)head(?!_dim)|n_group|expert|chunk|batch|max_|min_|rank|bucket|"
                         r"frame|crop|pool|resolution|scale|ratio|fft|rate|top_?k|index|indices|_id$|label|"
                         r"cache|tp$|dilation|padding|step|block_size|vision_feature|select|mask|_len$")


def _scale_dict(d, f):
    """The second kind of shrink: every width divided by ``f`` (where it divides), layers
    to two (one of each kind), vocab 512, experts 4, images small; head counts kept."""
    n_layers = None
    for k, v in list(d.items()):
        if isinstance(v, dict):
            _scale_dict(v, f)
            continue
        scaled = isinstance(k, str) and bool(_SCALED.search(k)) and not _NOT_SCALED.search(k)
        if isinstance(v, list) and v and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            if k in ("depths", "depth", "num_block_repeats", "block_repeats", "num_blocks") or k.endswith("_depths"):
                d[k] = [1] * len(v)
            elif scaled and all(x % f == 0 and x >= f for x in v):
                d[k] = [x // f for x in v]
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            continue
        if k in _LAYERS and v > 2 and not isinstance(d.get("depths"), list):
            d[k] = 2
            n_layers = n_layers or (v, [])
            n_layers[1].append(k)
        elif k in _EXPERTS and v > 4:
            d[k] = 4
        elif (k in _VOCAB or (isinstance(k, str) and "vocab" in k)) and v > 512:
            d[k] = 512
        elif _clamp_length_or_image(d, k, v):
            pass
        elif scaled and v >= f and v % f == 0:
            d[k] = v // f
    _fix_ids(d)
    if n_layers is not None:
        kept = _cut_layers(d, n_layers[0], 2, True)
        for k in n_layers[1]:
            d[k] = kept
    return d


#: the shrinks tried in order, the first that builds under MAX_PARAMS wins: 0 (the first
#: kind, widths clamped; k0: keeping one layer of each kind), s8/s16/s64 (widths
#: divided; s4 after the others: GroupNorm widths stay multiples of 32), 1, 2, 3 (the
#: default config)
LEVELS = (0, "k0", "s8", "s16", "s64", "s4", 1, 2, 3)


def hf_config(model_type, level):
    """The default config of ``model_type`` shrunk at ``level`` (3: unchanged)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    cfg_cls = CONFIG_MAPPING[model_type]
    cfg = cfg_cls()
    if level == 3:
        return cfg
    d = cfg.to_dict()
    if level == "k0":
        d = _shrink_dict(d, 0, kinds=True)
    else:
        d = _scale_dict(d, int(level[1:])) if isinstance(level, str) else _shrink_dict(d, level)
    for k in ("transformers_version", "model_type", "architectures", "_name_or_path"):
        d.pop(k, None)
    return cfg_cls(**d)


def hf_case(model_type):
    """(build, inputs, level, params) for ``model_type``, or raises _Skip."""
    import torch
    import transformers
    name = hf_class_name(model_type)
    cls = getattr(transformers, name, None) if name else None
    if cls is None:  # a sub-config, or a class the package does not export
        cls = hf_sub_class(model_type)
    if cls is None:
        raise _Skip("no model class: in no auto mapping, and its config's modeling module has none by name, "
                    "config_class or __init__ annotation")
    errors, fits = [], []
    for level in LEVELS:
        try:
            cfg = hf_config(model_type, level)
            with torch.device("meta"):
                m = cls(cfg)
            params = sum(p.numel() for p in m.parameters())
        except Exception as e:
            errors.append(f"L{level}: {type(e).__name__}: {str(e)[:160]}")
            continue
        if level != 3 and any(p.numel() == 0 for p in m.parameters()):
            # a degenerate shrink (lw_detr at level 0: no feature levels, so no sampling offsets)
            errors.append(f"L{level}: a parameter with no elements")
            continue
        if params > MAX_PARAMS:
            errors.append(f"L{level}: {params} params")
            if params <= MAX_PARAMS_LAST:
                fits.append((params, LEVELS.index(level), level, cfg))
            continue
        return _hf_build(cls, cfg, level, params)
    if fits:
        params, _, level, cfg = min(fits, key=lambda f: f[:2])
        return _hf_build(cls, cfg, level, params)
    if not errors[-1].startswith("L3: ") or errors[-1].endswith(" params"):
        sizes = [int(e.split(": ")[1].split()[0]) for e in errors if e.endswith(" params")]
        least = f"; the least: {min(sizes)} params" if sizes else ""
        raise _Skip(f"no shrunk config builds under {MAX_PARAMS_LAST} params{least}: " + " | ".join(errors))
    # the model's own default config: not a weakness of the shrink
    raise _Skip(f"its default config does not build ({errors[-1][4:]}): " + " | ".join(errors[:-1]))


def _hf_build(cls, cfg, level, params):
    def build():
        return cls(cfg)

    def make():
        import fastinit
        return fastinit.deferred_init(cls, cfg)

    return build, make, lambda model: _hf_inputs(model, cfg), level, params


def _hf_inputs(model, config):
    """Generic inputs to try, in order: the model's dummy_inputs (input_ids), with
    decoder_input_ids, pixel_values of the config's image size, both, a waveform."""
    import torch
    g = torch.Generator().manual_seed(0)
    cfg = getattr(model, "config", None) or config  # a sub-model may be a plain nn.Module
    d = getattr(model, "dummy_inputs", None)
    ids = dict(d) if isinstance(d, dict) and d else {"input_ids": torch.ones(1, 8, dtype=torch.long)}
    out = [ids, dict(ids, decoder_input_ids=ids["input_ids"][:, :4]) if "input_ids" in ids else None]
    vcfg = getattr(cfg, "vision_config", None) or cfg
    size = getattr(vcfg, "image_size", None)
    if isinstance(size, (list, tuple)):
        size = tuple(size[-2:]) if len(size) >= 2 else (size[0], size[0])
    elif isinstance(size, int):
        size = (size, size)
    if size is not None:
        ch = getattr(vcfg, "num_channels", 3)
        pix = {"pixel_values": torch.randn(1, ch if isinstance(ch, int) else 3, *size, generator=g)}
        out += [pix, dict(ids, **pix)]
    out.append({"input_values": torch.randn(1, 4000, generator=g)})
    return [c for c in out if c]


# --- timm ---------------------------------------------------------------------------------

#: the smallest variant of every timm family (``select-timm`` regenerates it)
TIMM_SMALLEST = {
    'beit': 'beit_base_patch16_224',
    'byoanet': 'halonet_h1',
    'byobnet': 'test_byobnet',
    'cait': 'cait_xxs24_224',
    'coat': 'coat_tiny',
    'convit': 'convit_tiny',
    'convmixer': 'convmixer_768_32',
    'convnext': 'test_convnext',
    'cpubone': 'cpubone_nano',
    'crossvit': 'crossvit_tiny_240',
    'csatv2': 'csatv2',
    'cspnet': 'cs3darknet_focus_s',
    'cspnext': 'cspnext_tiny',
    'davit': 'davit_tiny',
    'deepseek_vit': 'deepseek_vit_412m',
    'deit': 'deit_tiny_patch16_224',
    'densenet': 'densenet121',
    'dla': 'dla46x_c',
    'dpn': 'dpn48b',
    'edgenext': 'edgenext_xx_small',
    'efficientformer': 'efficientformer_l1',
    'efficientformer_v2': 'efficientformerv2_s0',
    'efficientnet': 'test_efficientnet',
    'efficientvim': 'efficientvim_m1',
    'efficientvit_mit': 'efficientvit_b0',
    'efficientvit_msra': 'efficientvit_m0',
    'eva': 'vit_tiny_patch16_dinov3_qkvb',
    'fasternet': 'fasternet_t0',
    'fastvit': 'fastvit_t8',
    'focalnet': 'focalnet_tiny_srf',
    'gcvit': 'gcvit_xxtiny',
    'gemma4_vit': 'gemma4_vit_167m',
    'ghostnet': 'ghostnet_050',
    'hardcorenas': 'hardcorenas_b',
    'hgnet': 'hgnetv2_b0',
    'hiera': 'hiera_tiny_224',
    'hieradet_sam2': 'sam2_hiera_tiny',
    'hrnet': 'hrnet_w18_small',
    'iformer': 'iformer_t',
    'inception_next': 'inception_next_atto',
    'inception_resnet_v2': 'inception_resnet_v2',
    'inception_v3': 'inception_v3',
    'inception_v4': 'inception_v4',
    'lcnetv2': 'lcnetv2_small',
    'levit': 'levit_128s',
    'lowformer': 'lowformer_b0',
    'mambaout': 'test_mambaout',
    'maxxvit': 'test_coatnet',
    'metaformer': 'poolformerv2_s12',
    'mlp_mixer': 'gmlp_ti16_224',
    'mobilenetv3': 'mobilenetv3_small_050',
    'mobilenetv5': 'mobilenetv5_base',
    'mobilevit': 'mobilevit_xxs',
    'mvitv2': 'mvitv2_tiny',
    'naflexvit': 'naflexvit_base_patch16_parfac_gap',
    'nasnet': 'nasnetalarge',
    'nest': 'nest_tiny',
    'nextvit': 'nextvit_small',
    'nfnet': 'test_nfnet',
    'pit': 'pit_ti_224',
    'pnasnet': 'pnasnet5large',
    'pvt_v2': 'pvt_v2_b0',
    'qwen3_vit': 'qwen3_vit_88m',
    'rdnet': 'rdnet_tiny',
    'regnet': 'regnetx_002',
    'repghost': 'repghostnet_050',
    'repvit': 'repvit_m1',
    'res2net': 'res2next50',
    'resnest': 'resnest14d',
    'resnet': 'test_resnet',
    'resnetv2': 'resnetv2_18',
    'rexnet': 'rexnet_100',
    'selecsls': 'selecsls42',
    'senet': 'legacy_seresnet18',
    'sequencer': 'sequencer2d_s',
    'shvit': 'shvit_s1',
    'sknet': 'skresnet18',
    'starnet': 'starnet_s050',
    'swiftformer': 'swiftformer_xs',
    'swin_transformer': 'swin_tiny_patch4_window7_224',
    'swin_transformer_v2': 'swinv2_tiny_window16_256',
    'swin_transformer_v2_cr': 'swinv2_cr_tiny_224',
    'tiny_vit': 'tiny_vit_5m_224',
    'tnt': 'tnt_s_legacy_patch16_224',
    'tresnet': 'tresnet_m',
    'twins': 'twins_svt_small',
    'vgg': 'vgg11',
    'visformer': 'visformer_tiny',
    'vision_transformer': 'test_vit',
    'vision_transformer_hybrid': 'vit_tiny_r_s16_p8_224',
    'vision_transformer_relpos': 'test_vit_relpos',
    'vision_transformer_sam': 'samvit_base_patch16_224',
    'vitamin': 'vitamin_small_224',
    'volo': 'volo_d1_224',
    'vovnet': 'ese_vovnet19b_slim_dw',
    'xception': 'legacy_xception',
    'xception_aligned': 'xception41p',
    'xcit': 'xcit_nano_12_p8_224',
}


def timm_families():
    import timm
    from timm.models import _registry
    fams = {}
    for name in timm.list_models():
        mod = _registry._model_to_module.get(name) or "?"
        fams.setdefault(mod, []).append(name)
    return fams


def select_timm():
    import torch
    import timm
    out = {}
    for fam, names in sorted(timm_families().items()):
        best = None
        for n in sorted(names):
            try:
                with torch.device("meta"):
                    m = timm.create_model(n, pretrained=False)
                c = sum(p.numel() for p in m.parameters())
            except Exception:
                continue
            if best is None or c < best[1]:
                best = (n, c)
        out[fam] = best[0] if best else None
    return out


#: for a timm variant above MAX_PARAMS: the keyword arguments of timm's transformer
#: families (VisionTransformer, Beit, Eva, NaFlexVit, ...) that make it small; tried first,
#: kept where the model takes them and has fewer parameters
TIMM_SMALL_KW = (dict(depth=2, embed_dim=64, num_heads=2), dict(depth=2))


def timm_case(model_name):
    import torch
    import timm
    cfg = timm.models.get_pretrained_cfg(model_name)
    size = tuple(getattr(cfg, "input_size", None) or (3, 224, 224)) if cfg is not None else (3, 224, 224)
    kw = dict(pretrained=False, num_classes=10)
    attempts = []
    if size[-1] > 64:
        attempts.append((dict(kw, img_size=64), (size[0], 64, 64)))
    attempts.append((kw, size))
    errors, built = [], []
    for kwargs, shape in attempts:
        for small in ({},) + TIMM_SMALL_KW:
            try:
                with torch.device("meta"):
                    m = timm.create_model(model_name, **kwargs, **small)
                params = sum(p.numel() for p in m.parameters())
            except Exception as e:
                if not small:
                    errors.append(f"{kwargs}: {type(e).__name__}: {str(e)[:160]}")
                continue
            built.append((params, dict(kwargs, **small), shape))
            if params <= MAX_PARAMS:
                break
        if built:
            break
    if not built:
        raise _Skip("does not build: " + " | ".join(errors))
    params, kwargs, shape = min(built, key=lambda b: b[0])

    def build():
        return timm.create_model(model_name, **kwargs)

    def make():
        import fastinit
        return fastinit.deferred_init(timm.create_model, model_name, **kwargs)

    def inputs(model):
        # a 64 x 64 image first (most convolutional nets take any size), then the model's
        shapes = [(shape[0], 64, 64)] + ([shape] if tuple(shape[1:]) != (64, 64) else [])
        return [{"x": torch.zeros(1, *s).normal_(generator=torch.Generator().manual_seed(0))} for s in shapes]
    level = ",".join(f"{k}={v}" for k, v in kwargs.items() if k not in kw) or "default"
    return build, make, inputs, level, params


# --- the check ----------------------------------------------------------------------------


class _Skip(Exception):
    pass


class _Fail(AssertionError):
    pass


def _ptr_groups(model):
    """Names grouped by storage address (ties), only groups of two or more."""
    groups = {}
    for n, t in named_tensors(model).items():
        if t.numel() and t.device.type != "meta":
            groups.setdefault((t.data_ptr(), t.dtype, tuple(t.shape)), []).append(n)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def _floats(x, out):
    import torch
    if isinstance(x, torch.Tensor):
        if x.is_floating_point() or x.is_complex():
            out.append(x)
    elif isinstance(x, dict) or hasattr(x, "to_tuple"):
        for v in (x.values() if isinstance(x, dict) else x.to_tuple()):
            _floats(v, out)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _floats(v, out)
    return out


def _forward(model, inputs):
    import torch
    with torch.no_grad():
        return _floats(model.eval()(**inputs), [])


def _same(x, y):
    import torch

    x, y = x.detach(), y.detach()
    return torch.equal(x, y) or (x.is_floating_point() and torch.equal(x.isnan(), y.isnan())
                                 and torch.equal(x.nan_to_num(), y.nan_to_num()))


def check(build, make, inputs, phases=None, notes=None):
    """Compares the deferred model with two eager builds. Returns the forward note; raises
    _Fail on a difference, DeferredInitError as it comes. ``phases`` gets the seconds of
    each step (where the sweep's time goes); ``notes["one_model"]``: how many tensors of
    ``init_module_(second eager build, seed=SEED)`` differ from ``materialize_``'s (one
    seed, one model), or the error it raised."""
    import torch
    import scipy.stats as st
    import fastinit
    import fastinit.models.deferred as D
    D._POISON = True

    phases = {} if phases is None else phases
    clock = [time.perf_counter()]

    def lap(what):
        now = time.perf_counter()
        phases[what] = round(phases.get(what, 0.0) + now - clock[0], 3)
        clock[0] = now

    torch.manual_seed(EAGER_SEEDS[0])
    try:
        e1 = build()
    except Exception as e:
        raise _Skip(f"eager build fails: {type(e).__name__}: {str(e)[:300]}")
    torch.manual_seed(EAGER_SEEDS[1])
    e2 = build()
    E1, E2 = named_tensors(e1), named_tensors(e2)
    lap("eager")

    m = make()
    if not all(t.is_meta for t in named_tensors(m).values() if t.numel()):
        raise _Fail("not built on meta")
    lap("deferred")
    fastinit.materialize_(m, seed=SEED)
    lap("materialize")
    X = named_tensors(m)
    if sorted(X) != sorted(E1):
        raise _Fail(f"names differ: {sorted(set(X) ^ set(E1))[:8]}")
    if _ptr_groups(m) != _ptr_groups(e1):
        raise _Fail(f"ties differ: ours {_ptr_groups(m)[:4]} eager {_ptr_groups(e1)[:4]}")
    for n, x in X.items():
        a, b = E1[n], E2[n]
        if x.shape != a.shape or x.dtype != a.dtype or type(x) is not type(a):
            raise _Fail(f"{n}: {type(x).__name__} {tuple(x.shape)} {x.dtype} vs eager "
                        f"{type(a).__name__} {tuple(a.shape)} {a.dtype}")
        if x.device.type == "meta":
            raise _Fail(f"{n}: still on meta")
        x, a, b = x.detach(), a.detach(), b.detach()
        if x.is_floating_point() and x.isnan().any() and not a.isnan().any():
            raise _Fail(f"{n}: NaN after materialize_ (an element nothing wrote)")
        if torch.equal(a, b) or (a.is_floating_point() and a.isnan().any() and
                                 torch.equal(a.nan_to_num(), b.nan_to_num())):
            if not (torch.equal(x, a) or (x.is_floating_point() and torch.equal(x.isnan(), a.isnan())
                                          and torch.equal(x.nan_to_num(), a.nan_to_num()))):
                bad = (x != a).sum().item() if x.numel() else 0
                raise _Fail(f"{n}: a constant/computed tensor differs from eager ({bad} of {x.numel()} elements)")
            continue
        if torch.equal(x, a) and x.numel() > 64:
            raise _Fail(f"{n}: random in eager, yet equal to eager seed {EAGER_SEEDS[0]}'s values")
        if x.is_floating_point():
            fixed = (a == 0) & (b == 0)
            if not torch.equal(x[fixed], a[fixed]):
                raise _Fail(f"{n}: elements zero in both eager builds are not zero")
            if x.numel() >= KS_MIN_ELEMENTS:
                step = -(-x.numel() // KS_MAX_ELEMENTS)
                p = st.ks_2samp(x.reshape(-1)[::step].double().numpy(), a.reshape(-1)[::step].double().numpy()).pvalue
                if not p > P_MIN:
                    raise _Fail(f"{n}: KS p={p:.3g} against eager (n={x.numel()})")
        elif x.numel() > 1 and torch.equal(x, x.reshape(-1)[0].expand_as(x)) and not torch.equal(a, a.reshape(-1)[0].expand_as(a)):
            raise _Fail(f"{n}: random int tensor in eager, constant in ours")
    lap("compare")
    # same seed twice: bit-identical
    m2 = make()
    lap("deferred")
    fastinit.materialize_(m2, seed=SEED)
    lap("materialize")
    Y = named_tensors(m2)
    for n, x in X.items():
        y = Y[n]
        if not (torch.equal(x.detach(), y.detach()) or (x.is_floating_point() and torch.equal(
                x.detach().nan_to_num(), y.detach().nan_to_num()) and torch.equal(x.isnan(), y.isnan()))):
            raise _Fail(f"{n}: the same seed twice gives different values")
    lap("compare")
    # one seed, one model (issue 17): the second eager build re-initialized with the seed
    if notes is not None:
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # parameters nothing re-initializes are named
                fastinit.init_module_(e2, seed=SEED)
            Z = named_tensors(e2)
            differ = sorted(n for n, x in X.items() if not _same(x, Z[n]))
            notes["one_model"] = {"tensors": len(X), "differ": len(differ), "first": differ[:4]}
        except Exception as e:
            notes["one_model"] = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
        lap("init_module")
    # forward: where eager runs on the generic input, ours must too, finite where eager is
    errors = []
    for ins in inputs(e1):
        try:
            fe = _forward(e1, ins)
            break
        except Exception as e:
            errors.append(f"{type(e).__name__}: {str(e)[:80]}")
    else:
        lap("forward")
        return "no generic input (eager forward: " + " | ".join(errors) + ")"
    fo = _forward(m, ins)
    lap("forward")
    if len(fo) != len(fe):
        raise _Fail(f"forward: {len(fo)} float outputs vs eager {len(fe)}")
    for i, (o, e) in enumerate(zip(fo, fe)):
        if torch.isfinite(e).all() and not torch.isfinite(o).all():
            raise _Fail(f"forward: output {i} not finite (eager's is)")
    return f"ok ({', '.join(sorted(ins))}: {len(fo)} float outputs)"


_MISSING = ("requires the", "pip install", "No module named", "is not installed", "can't load", "Can't load",
            "huggingface.co", "from_pretrained", "HTTP", "Connection")


def run_one(kind, name):
    from fastinit.models.deferred import DeferredInitError
    t0, c0 = time.perf_counter(), time.process_time()
    res = {"name": name, "status": "pass", "msg": "", "level": None, "params": None, "forward": None}
    try:
        if kind == "hf":
            build, make, inputs, level, params = hf_case(name)
        else:
            build, make, inputs, level, params = timm_case(name)
        res["level"], res["params"] = level, params
        res["phases"] = phases = {"case": round(time.perf_counter() - t0, 3)}
        notes = {}
        res["forward"] = check(build, make, inputs, phases, notes)
        res.update(notes)
    except _Skip as e:
        res["status"], res["msg"] = "skip", str(e)
    except DeferredInitError as e:
        res["status"], res["msg"] = "raise", str(e)[:600]
    except _Fail as e:
        res["status"], res["msg"] = "fail", str(e)[:600]
    except Exception as e:
        tb = traceback.format_exc(limit=-3)
        res["status"], res["msg"] = "fail", f"{type(e).__name__}: {str(e)[:400]}\n{tb[-800:]}"
    res["seconds"] = round(time.perf_counter() - t0, 2)
    res["cpu_seconds"] = round(time.process_time() - c0, 2)  # the machine is shared: CPU time too
    return res


def summary(path):
    """The counts of a whole sweep's results (``FASTINIT_SWEEP_RESULTS``: one JSON line
    per model), as benchmarks/results/sweep_zen5.txt reports them."""
    rows = [json.loads(line) for line in open(path)]
    out = []
    for kind, title in (("hf", "transformers 5.24"), ("timm", "timm 1.0.31")):
        rs = [r for r in rows if r["kind"] == kind]
        by = {}
        for r in rs:
            by.setdefault(r["status"], []).append(r)
        out.append(f"== {title}: {len(rs)} types: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(by.items())))
        passed = by.get("pass", [])
        fwd = sum(1 for r in passed if str(r.get("forward", "")).startswith("ok"))
        out.append(f"  pass {len(passed)} ({fwd} with a finite forward pass on a generic input; for the rest no "
                   "generic input runs the eager model either)")
        om = [r.get("one_model") or {} for r in passed]
        same = sum(1 for o in om if o.get("differ") == 0)
        err = [r for r in passed if "error" in (r.get("one_model") or {})]
        out.append(f"  one seed, one model: init_module_ equals materialize_ on every tensor for {same} of "
                   f"{len(passed)}; differs for {len(passed) - same - len(err)}; init_module_ raised for {len(err)}")
        for r in sorted(passed, key=lambda r: r["type"]):
            o = r.get("one_model") or {}
            if o.get("differ") or "error" in o:
                out.append(f"    {r['type']}: " + (o["error"] if "error" in o else
                                                   f"{o['differ']} of {o['tensors']} tensors, first {o['first']}"))
        for status in ("raise", "fail", "crash"):
            for r in by.get(status, []):
                out.append(f"  {status}: {r['type']} ({r['name']}): {r['msg'][:300]}")
        reasons = {}
        for r in by.get("skip", []):
            reasons.setdefault(r["msg"].split(":")[0][:90], []).append(r["type"])
        for reason, names in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
            out.append(f"  not built, {len(names)}: {reason}: {', '.join(sorted(names))}")
        out.append(f"  wall seconds summed over models {sum(r.get('seconds', 0) for r in rs):.0f}, "
                   f"CPU {sum(r.get('cpu_seconds', 0) for r in rs):.0f}")
    return "\n".join(out)


def main(argv):
    import warnings
    warnings.filterwarnings("ignore")
    kind = argv[0]
    if kind == "summary":
        print(summary(argv[1]))
        return
    if kind == "select-timm":
        install_torchvision_standin()
        print(json.dumps(select_timm(), indent=1, sort_keys=True))
        return
    # one thread each: the test runs two workers at once on the 2 cores (JOBS); more
    # threads than cores only adds contention
    import torch
    import fastinit
    torch.set_num_threads(THREADS)
    fastinit.set_num_threads(THREADS)
    stub = install_torchvision_standin() if kind in ("timm", "hf-tv") else False
    kind = "hf" if kind == "hf-tv" else kind
    import logging
    logging.disable(logging.WARNING)
    try:
        import transformers
        transformers.logging.set_verbosity_error()
    except Exception:
        pass
    for name in argv[1:]:
        res = run_one(kind, name)
        res["torchvision_stub"] = stub
        print("SWEEP " + json.dumps(res), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, _HERE)
    main(sys.argv[1:])
