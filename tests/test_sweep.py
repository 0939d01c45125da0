"""deferred_init / materialize_ over real model code (issue 17, item 6).

Every model type that transformers registers (``CONFIG_MAPPING``; its base model class from
``MODEL_MAPPING``, else the first task mapping that has it; a sub-config in no mapping gets
the class its config's modeling module names by convention, ``AlignTextConfig`` ->
``AlignTextModel``), built from its default config shrunk (tests/sweep_models.py
``LEVELS``: widths clamped, or all widths divided by one factor so the config's own
equalities hold; layers to two, one of each kind; vocab 512; experts 4; small images; the
first that builds with at most 5M parameters, else the smallest under 30M), and the
smallest variant of every timm family (``num_classes=10``, ``img_size=64`` where the model
takes it, a 64 x 64 input first), each checked by tests/sweep_models.py against two eager
builds (``torch.manual_seed(0)`` and ``(1)``):

* a tensor equal in both eager builds (a constant, a computed buffer) is bit-identical
  after ``materialize_``; a random one is random in ours too (not equal to eager's values)
  and, with >= 1000 elements, passes a two-sample KS test against eager (p > 1e-6; at most
  200k evenly strided elements, the same positions in both); elements zero in both eager
  builds (padding rows) are zero;
* fresh memory is poisoned (NaN, ints -1: ``deferred._POISON``), so an unwritten element
  shows up; parameter and buffer names, types, shapes, dtypes and ties (storage
  addresses) are eager's; the same seed twice gives bit-identical tensors;
* where the eager model runs on a generic input (``dummy_inputs``; with
  ``decoder_input_ids``; ``pixel_values`` of the config's image size; a waveform; timm:
  an image), ours runs on it and is finite where eager's output is;
* one seed, one model: ``init_module_(second eager build, seed)`` equals
  ``materialize_(..., seed)`` on every tensor, except for the models in
  ``ONE_MODEL_DIFFERS``, which give how many tensors differ (and why).

A model in ``RAISES`` must raise ``DeferredInitError`` with that text (the op and the
tensor it names); one in ``NOT_BUILT`` must still not build eagerly for that reason (its
reason is the check: when it starts to build, this test fails and the model joins the
sweep). Every other model must pass. Models run in chunks of 40, one worker process each
(timm and the transformers types whose code needs timm run with the torchvision stand-in,
tests/torchvision_standin.py; a crash takes only its chunk), ``JOBS`` (2) processes at a
time, one thread each: the first test of the whole sweep starts them all. ``FAST`` is
the unmarked sample, which every run checks. The whole sweep is marked ``sweep`` (and
slow), deselected by default (pyproject's addopts), and run as its own CI stage:
``python -m pytest -m sweep tests/test_sweep.py -q``; its counts, reasons and time are in
benchmarks/results/sweep_zen5.txt.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import warnings

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import sweep_models  # noqa: E402

CHUNK = 40
CHUNK_TIMEOUT_S = 1200
#: worker processes at once (the machine and CI have 2 cores)
JOBS = int(os.environ.get("FASTINIT_SWEEP_JOBS", "2"))

#: the unmarked sample: a few of each kind of model code
FAST = {"hf": ["bert", "llama", "gpt2", "t5", "mixtral", "clip", "wav2vec2"],
        "timm": ["resnet", "vision_transformer", "convnext"]}

#: model -> the DeferredInitError text it must raise (names the op and the tensor). Empty:
#: the two that raised in the first whole run (hf:lw_detr, timm:csatv2) pass since their
#: fixes (regression tests in the "engine defects" section below)
RAISES = {
}

#: model -> the text of a failure that is a known engine defect (not a DeferredInitError),
#: asserted as it is until its fix lands. Empty: hf:inkling_vision, hf:inkling_mm_model and
#: hf:llama4_vision_model pass since their fixes (tests below)
DEFECTS = {
}

#: model -> how many tensors differ between init_module_(eager build, seed=s) and
#: materialize_(deferred_init(...), seed=s) (one seed, one model; every model not listed:
#: none), or the start of the error init_module_ raises. Each differs because part of its
#: init is constructor code that no re-initialization can run again:
#:   * a timm backbone inside (the DETR family, OmDet-Turbo) and timm families that
#:     initialize in the constructor's body (a named_apply of a module-level function, a
#:     loop over self.modules(), trunc_normal_(self.pos_embed), a zero-initialized residual
#:     norm); XCodec, whose constructor applies and removes weight_norm on its DAC parts;
#:   * a random buffer or parameter drawn in the body and not re-initialized by the model's
#:     _init_weights (SAM-style prompt encoders' positional_embedding, EdgeTAM's latents,
#:     IDEFICS' class_embedding, SEW-D's masked_spec_embed);
#:   * inkling_audio: its init_weights() needs attributes that only post_init sets, which
#:     this sub-model's constructor does not call.
ONE_MODEL_DIFFERS = {
    'hf:conditional_detr': 53,  # of 380: backbone.model.conv1.weight
    'hf:dab-detr': 53,  # of 392: backbone.conv_encoder.model._backbone.conv1.weight
    'hf:deformable_detr': 53,  # of 369: backbone.model.conv1.weight
    'hf:detr': 53,  # of 354: backbone.model.conv1.weight
    'hf:edgetam_prompt_encoder': 1,  # of 14: shared_embedding.positional_embedding
    'hf:edgetam_video': 2,  # of 469: spatial_perceiver.latents_1d
    'hf:edgetam_video_prompt_encoder': 1,  # of 14: shared_embedding.positional_embedding
    'hf:idefics_vision': 1,  # of 40: embeddings.class_embedding
    'hf:inkling_audio': "AttributeError: 'InklingAudioModel' object has no attribute ",
    'hf:omdet-turbo': 99,  # of 727: vision_backbone.vision_backbone._backbone.layers_0.blocks.0.attn.proj.
    'hf:sam2_prompt_encoder': 1,  # of 14: shared_embedding.positional_embedding
    'hf:sam2_video_prompt_encoder': 1,  # of 14: shared_embedding.positional_embedding
    'hf:sam3_tracker_prompt_encoder': 1,  # of 14: shared_embedding.positional_embedding
    'hf:sam3_tracker_video_prompt_encoder': 1,  # of 14: shared_embedding.positional_embedding
    'hf:sew-d': 1,  # of 60: masked_spec_embed
    'hf:table-transformer': 53,  # of 356: backbone.conv_encoder.model.conv1.weight
    'hf:xcodec': 56,  # of 294: acoustic_decoder.block.0.res_unit1.conv1.weight
    'timm:byoanet': 139,  # of 425: head.fc.bias
    'timm:byobnet': 36,  # of 102: head.fc.bias
    'timm:cait': 2,  # of 80: cls_token
    'timm:coat': 4,  # of 546: cls_token1
    'timm:convit': 6,  # of 40: blocks.0.attn.pos_proj.weight
    'timm:convnext': 64,  # of 101: head.fc.bias
    'timm:crossvit': 4,  # of 304: cls_token_0
    'timm:cspnet': 42,  # of 188: head.fc.bias
    'timm:deepseek_vit': 1,  # of 22: head.weight
    'timm:densenet': 121,  # of 727: classifier.bias
    'timm:dla': 49,  # of 290: base_layer.0.weight
    'timm:edgenext': 102,  # of 160: head.fc.bias
    'timm:efficientnet': 23,  # of 88: blocks.0.0.conv.weight
    'timm:efficientvit_msra': 36,  # of 699: head.linear.bias
    'timm:fasternet': 46,  # of 131: classifier.bias
    'timm:fastvit': 50,  # of 462: stages.0.blocks.0.mlp.conv.conv.weight
    'timm:focalnet': 154,  # of 212: head.fc.bias
    'timm:hardcorenas': 75,  # of 350: blocks.0.0.conv_dw.weight
    'timm:hgnet': 44,  # of 317: head.fc.bias
    'timm:hiera': 106,  # of 157: blocks.0.attn.proj.bias
    'timm:hieradet_sam2': 107,  # of 158: blocks.0.attn.proj.bias
    'timm:inception_v3': 95,  # of 566: Conv2d_1a_3x3.conv.weight
    'timm:lcnetv2': 55,  # of 241: classifier.bias
    'timm:levit': 24,  # of 336: head.linear.bias
    'timm:maxxvit': 48,  # of 105: stages.0.blocks.0.conv1_1x1.weight
    'timm:mobilenetv3': 74,  # of 244: blocks.0.0.conv_dw.weight
    'timm:mobilenetv5': 122,  # of 239: blocks.0.0.conv_exp.weight
    'timm:mobilevit': 112,  # of 311: final_conv.conv.weight
    'timm:mvitv2': 20,  # of 242: stages.0.blocks.0.attn.rel_pos_h
    'timm:nextvit': 167,  # of 472: head.fc.bias
    'timm:nfnet': 68,  # of 93: final_conv.bias
    'timm:pit': 2,  # of 160: cls_token
    'timm:qwen3_vit': 1,  # of 30: head.weight
    'timm:rdnet': 86,  # of 251: dense_stages.0.0.dense_block0.layers.layers.0.weight
    'timm:regnet': 59,  # of 266: head.fc.bias
    'timm:repvit': 30,  # of 690: head.head.l.bias
    'timm:resnetv2': 8,  # of 107: stages.0.blocks.0.conv2.weight
    'timm:rexnet': 103,  # of 413: features.0.conv_dw.conv.weight
    'timm:selecsls': 41,  # of 248: features.0.conv1.0.weight
    'timm:senet': 36,  # of 154: layer0.conv1.weight
    'timm:shvit': 37,  # of 471: head.l.bias
    'timm:sknet': 8,  # of 226: layer1.0.conv2.bn.weight
    'timm:swiftformer': 162,  # of 316: head.bias
    'timm:tiny_vit': 2,  # of 306: stages.0.blocks.0.conv3.bn.weight
    'timm:tnt': 3,  # of 71: cls_token
    'timm:tresnet': 118,  # of 437: body.conv1.conv.weight
    'timm:vgg': 22,  # of 22: features.0.bias
    'timm:visformer': 3,  # of 65: pos_embed1
    'timm:vitamin': 4,  # of 97: patch_embed.backbone.stem.conv1.bias
    'timm:volo': 2,  # of 260: cls_token
    'timm:vovnet': 41,  # of 156: head.fc.bias
    'timm:xception': 74,  # of 276: block1.rep.0.conv1.weight
    'timm:xcit': 1,  # of 385: cls_token
}

#: model -> why its eager build cannot be made here (asserted: the text must be in the
#: worker's reason); benchmarks/results/sweep_zen5.txt has each one's full reason
NOT_BUILT = {
    'hf:pix2struct_text_model': "eager build fails: AttributeError: 'Pix2StructTextConfig' object has no attribute 'initial",
    'hf:chameleon': "its default config does not build (AttributeError: 'NoneType' object has no attribute 'get'): L0: At",
    'hf:cohere_compass': "its default config does not build (KeyError: 'full_attention'): L0: KeyError: 'full_attention' | Lk0",
    'hf:cohere_compass_text': "its default config does not build (KeyError: 'full_attention'): L0: KeyError: 'full_attention' | Lk0",
    'hf:dbrx': "its default config does not build (AttributeError: 'DbrxAttentionConfig' object has no attribute 'ro",
    'hf:deepseek_ocr2': "its default config does not build (TypeError: 'NoneType' object is not subscriptable): L0: TypeError",
    'hf:deepseek_ocr2_text': "its default config does not build (TypeError: 'NoneType' object is not subscriptable): L0: TypeError",
    'hf:diffusion_gemma': "its default config does not build (TypeError: empty(): argument 'size' (position 1) must be tuple of",
    'hf:diffusion_gemma_text': "its default config does not build (TypeError: empty(): argument 'size' (position 1) must be tuple of",
    'hf:dots1': 'its default config does not build (TypeError: empty() takes 1 positional argument but 3 were given):',
    'hf:emu3': "its default config does not build (AttributeError: 'NoneType' object has no attribute 'get'): L0: At",
    'hf:esm': "its default config does not build (TypeError: empty(): argument 'size' (position 1) must be tuple of",
    'hf:gemma4_assistant': 'its default config does not build (StrictDataclassClassValidationError: Class validation error for v',
    'hf:gemma4_unified_audio': 'its default config does not build (TypeError: Gemma4UnifiedMultimodalEmbedder.__init__() missing 1 r',
    'hf:gemma4_unified_vision': 'its default config does not build (TypeError: Gemma4UnifiedMultimodalEmbedder.__init__() missing 1 r',
    'hf:granite4_vision': "its default config does not build (TypeError: object of type 'NoneType' has no len()): L0: TypeError",
    'hf:hunyuan_v1_dense': "its default config does not build (TypeError: unsupported operand type(s) for ** or pow(): 'NoneType",
    'hf:hunyuan_v1_moe': "its default config does not build (TypeError: unsupported operand type(s) for ** or pow(): 'NoneType",
    'hf:hunyuan_vl': "its default config does not build (TypeError: unsupported operand type(s) for ** or pow(): 'NoneType",
    'hf:hunyuan_vl_text': "its default config does not build (TypeError: unsupported operand type(s) for ** or pow(): 'NoneType",
    'hf:lfm2_moe': "its default config does not build (TypeError: 'NoneType' object is not subscriptable): L0: TypeError",
    'hf:ministral': "its default config does not build (TypeError: unsupported operand type(s) for ** or pow(): 'NoneType",
    'hf:moonshine_streaming': "its default config does not build (AttributeError: 'MoonshineStreamingConfig' object has no attribut",
    'hf:musicgen': "its default config does not build (AttributeError: 'MusicgenConfig' object has no attribute 'dropout",
    'hf:musicgen_melody': "its default config does not build (AttributeError: 'MusicgenMelodyConfig' object has no attribute 'd",
    'hf:nemotron': "its default config does not build (TypeError: unsupported operand type(s) for //: 'int' and 'NoneTyp",
    'hf:perception_lm': "its default config does not build (TypeError: 'NoneType' object is not subscriptable): L0: TypeError",
    'hf:pp_ocrv5_server_det': "its default config does not build (TypeError: 'NoneType' object is not subscriptable): L0: TypeError",
    'hf:pp_ocrv6_medium_det': "its default config does not build (TypeError: 'NoneType' object is not subscriptable): L0: TypeError",
    'hf:qwen3_omni_moe': "its default config does not build (AttributeError: 'Qwen3OmniMoeTalkerTextConfig' object has no attr",
    'hf:qwen3_omni_moe_talker_text': "its default config does not build (AttributeError: 'Qwen3OmniMoeTalkerTextConfig' object has no attr",
    'hf:sam_hq_prompt_encoder': "its default config does not build (AttributeError: 'SamHQPromptEncoderConfig' object has no attribut",
    'hf:sam_prompt_encoder': "its default config does not build (AttributeError: 'SamPromptEncoderConfig' object has no attribute",
    'hf:sapiens2_head': "its default config does not build (AttributeError: 'Sapiens2HeadConfig' object has no attribute 'hea",
    'hf:t5_gemma_module': 'its default config does not build (TypeError: T5GemmaCrossAttention.__init__() missing 1 required po',
    'hf:t5gemma2_decoder': "its default config does not build (AttributeError: 'T5Gemma2DecoderConfig' object has no attribute '",
    'hf:t5gemma2_encoder': "its default config does not build (AttributeError: 'T5Gemma2TextConfig' object has no attribute 'dro",
    'hf:t5gemma2_text': "its default config does not build (AttributeError: 'T5Gemma2TextConfig' object has no attribute 'dro",
    'hf:timm_backbone': 'its default config does not build (ValueError: backbone is not set in the config. Please set it to a',
    'hf:idefics_perciever': 'no model class',
    'hf:layoutxlm': 'no model class',
    'hf:nougat': 'no model class',
    'hf:pp_chart2table_vision': 'no model class',
    'hf:apertus1p5': 'no shrunk config builds under 30000000 params',
    'hf:csm': 'no shrunk config builds under 30000000 params',
    'hf:dory': 'no shrunk config builds under 30000000 params',
    'hf:ernie4_5_vl_moe': 'no shrunk config builds under 30000000 params',
    'hf:ernie4_5_vl_moe_text': 'no shrunk config builds under 30000000 params',
    'hf:esmfold2': 'no shrunk config builds under 30000000 params',
    'hf:fast_vlm': 'no shrunk config builds under 30000000 params',
    'hf:gemma3n': 'no shrunk config builds under 30000000 params',
    'hf:gemma3n_vision': 'no shrunk config builds under 30000000 params',
    'hf:janus': 'no shrunk config builds under 30000000 params',
    'hf:longcat_flash': 'no shrunk config builds under 30000000 params',
    'hf:mimi': 'no shrunk config builds under 30000000 params',
    'hf:molmo2': 'no shrunk config builds under 30000000 params',
    'hf:nemo_speechlm': 'no shrunk config builds under 30000000 params',
    'hf:pe_audio_video': 'no shrunk config builds under 30000000 params',
    'hf:pe_audio_video_encoder': 'no shrunk config builds under 30000000 params',
    'hf:pe_video': 'no shrunk config builds under 30000000 params',
    'hf:pe_video_encoder': 'no shrunk config builds under 30000000 params',
    'hf:qwen2_5_omni': 'no shrunk config builds under 30000000 params',
    'hf:qwen2_5_omni_bigvgan': 'no shrunk config builds under 30000000 params',
    'hf:qwen2_5_omni_token2wav': 'no shrunk config builds under 30000000 params',
    'hf:vibevoice': 'no shrunk config builds under 30000000 params',
    'hf:vibevoice_acoustic_tokenizer': 'no shrunk config builds under 30000000 params',
    'hf:vibevoice_acoustic_tokenizer_decoder': 'no shrunk config builds under 30000000 params',
    'hf:vibevoice_acoustic_tokenizer_encoder': 'no shrunk config builds under 30000000 params',
    'hf:vibevoice_asr': 'no shrunk config builds under 30000000 params',
    'hf:dinat': 'requires the natten library',
    'hf:higgs_audio_v2_tokenizer': 'requires the torchaudio library',
    'hf:layoutlmv2': 'requires the detectron2 library',
}


def _hf_types():
    try:
        return sweep_models.hf_types()
    except Exception as e:  # transformers is a test dependency: missing fails the tests below
        return [f"transformers-not-importable:{type(e).__name__}"]


def _cases():
    cases = [("hf", t) for t in _hf_types()] + [("timm", f) for f in sorted(sweep_models.TIMM_SMALLEST)]
    return cases


def _worker_kind(kind, name):
    return "hf-tv" if kind == "hf" and name in sweep_models.HF_TORCHVISION_STANDIN else kind


def _chunks():
    """(kind, worker kind, names) groups, the fast sample first, in a fixed order; each
    worker kind apart (the torchvision stand-in is per process)."""
    out = []
    for kind in ("hf", "timm"):
        out.append((kind, kind, tuple(FAST[kind])))
        rest = [n for k, n in _cases() if k == kind and n not in FAST[kind]]
        for wk in sorted({_worker_kind(kind, n) for n in rest}):
            names = [n for n in rest if _worker_kind(kind, n) == wk]
            out += [(kind, wk, tuple(names[i:i + CHUNK])) for i in range(0, len(names), CHUNK)]
    return out


_RESULTS = {}


def _worker_name(kind, name):
    return sweep_models.TIMM_SMALLEST[name] if kind == "timm" else name


def _run_chunk(chunk):
    """Runs one chunk's worker process; returns {(kind, name): result}."""
    kind, wk, names = chunk
    argv = [_worker_name(kind, n) for n in names]
    try:
        proc = subprocess.run([sys.executable, os.path.join(_HERE, "sweep_models.py"), wk] + argv,
                              capture_output=True, text=True, timeout=CHUNK_TIMEOUT_S)
        stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr, rc = f"timed out after {CHUNK_TIMEOUT_S} s", "timeout"
    got = {}
    for line in stdout.splitlines():
        if line.startswith("SWEEP "):
            r = json.loads(line[6:])
            got[r["name"]] = r
    return {(kind, n): got.get(w) or {
        "name": w, "status": "crash",
        "msg": f"no result: the chunk's process ended with rc {rc}\n{stderr[-3000:]}"}
        for n, w in zip(names, argv)}


def _result(kind, name):
    """The worker's result for one model. The first model of the whole sweep asked for
    starts every chunk but the fast sample's, JOBS processes at a time (the wall time CI
    allows on 2 cores); a fast-sample model runs its own chunk alone."""
    key = (kind, name)
    if key not in _RESULTS:
        chunks = _chunks()
        mine = next(c for c in chunks if c[0] == kind and name in c[2])
        if name in FAST[kind]:
            _RESULTS.update(_run_chunk(mine))
        else:
            todo = [c for c in chunks if c[2] != tuple(FAST[c[0]]) and (c[0], c[2][0]) not in _RESULTS]
            with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
                for got in pool.map(_run_chunk, todo):
                    _RESULTS.update(got)
            if os.environ.get("FASTINIT_SWEEP_RESULTS"):  # every result, for the results file
                with open(os.environ["FASTINIT_SWEEP_RESULTS"], "w") as f:
                    for (k, n), r in sorted(_RESULTS.items()):
                        f.write(json.dumps(dict(r, kind=k, type=n)) + "\n")
    return _RESULTS[key]


def _params(fast):
    out = []
    for kind, name in _cases():
        is_fast = name in FAST.get(kind, ())
        if is_fast != fast:
            continue
        out.append(pytest.param(kind, name, id=f"{kind}-{name}",
                                marks=() if fast else (pytest.mark.slow, pytest.mark.sweep)))
    return out


def _check(kind, name):
    key = f"{kind}:{name}"
    r = _result(kind, name)
    what = f"{key} ({r['name']}, level {r.get('level')}, {r.get('params')} params)"
    if r.get("torchvision_stub"):
        warnings.warn(f"{key}: torchvision stand-in (timm's model code only)")
    if key in NOT_BUILT:
        assert r["status"] == "skip", f"{what} is listed in NOT_BUILT ({NOT_BUILT[key]!r}) but now {r['status']}: " \
                                      f"{r['msg']}: take it off the list"
        assert NOT_BUILT[key] in r["msg"], f"{what}: a different reason: {r['msg']}"
        return
    if key in DEFECTS:
        assert r["status"] in ("fail", "raise"), f"{what} is listed in DEFECTS ({DEFECTS[key]!r}) but now " \
                                                 f"{r['status']}: take it off the list"
        assert DEFECTS[key] in r["msg"], f"{what}: another failure: {r['msg']}"
        return
    if key in RAISES:
        assert r["status"] == "raise", f"{what} must raise DeferredInitError ({RAISES[key]!r}), got {r['status']}: " \
                                       f"{r['msg']}"
        assert RAISES[key] in r["msg"], f"{what}: another DeferredInitError: {r['msg']}"
        return
    assert r["status"] == "pass", f"{what}: {r['status']}: {r['msg']}"
    # one seed, one model: init_module_(eager, seed) against materialize_(deferred, seed)
    om = r.get("one_model") or {"error": "not measured"}
    want = ONE_MODEL_DIFFERS.get(key, 0)
    if isinstance(want, str) or "error" in om:
        assert om.get("error", "").startswith(str(want)), f"{what}: init_module_ raised {om} (listed: {want!r})"
        return
    assert om["differ"] == want, (f"{what}: init_module_(seed) and materialize_(seed) differ in {om['differ']} of "
                                  f"{om['tensors']} tensors (listed: {want}), first {om['first']}")


@pytest.mark.parametrize("kind,name", _params(fast=True))
def test_sweep_sample(kind, name):
    _check(kind, name)


@pytest.mark.parametrize("kind,name", _params(fast=False))
def test_sweep(kind, name):
    _check(kind, name)


def test_sweep_lists_name_real_models():
    """RAISES and NOT_BUILT name models of the sweep (a renamed type would silently drop out)."""
    keys = {f"{k}:{n}" for k, n in _cases()}
    stale = sorted((set(RAISES) | set(NOT_BUILT) | set(DEFECTS) | set(ONE_MODEL_DIFFERS)) - keys)
    assert not stale, f"listed but not in the sweep: {stale}"
    assert not set(RAISES) & set(NOT_BUILT) and not set(DEFECTS) & (set(RAISES) | set(NOT_BUILT))
    assert len(sweep_models.TIMM_SMALLEST) > 50 and all(sweep_models.TIMM_SMALLEST.values())


# --- engine defects the sweep found, each as a minimal model ------------------------------


@pytest.fixture
def poisoned(monkeypatch):
    import fastinit.models.deferred as deferred_mod
    monkeypatch.setattr(deferred_mod, "_POISON", True)


def test_overwrite_reading_own_earlier_state(poisoned):
    """``a.copy_(init.uniform_(a, 1, 16).log())`` (Hugging Face's bailing_hybrid A_log): the
    copy_ overwrites ``a`` whole but its source reads ``a`` after the uniform_; the replay
    read the not yet written (poisoned) tensor: NaN."""
    import torch
    from test_deferred import check_against_eager
    import fastinit

    class ALog(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.A_log = torch.nn.Parameter(torch.empty(4096))
            with torch.no_grad():
                self.A_log.copy_(torch.nn.init.uniform_(self.A_log, a=1.0, b=16.0).log())

    m = check_against_eager(ALog, what="A_log", make=lambda: fastinit.deferred_init(ALog))
    a = m.A_log.detach()
    assert bool(((a >= 0) & (a <= torch.log(torch.tensor(16.0)))).all())


def test_multi_output_op_result_is_recorded(poisoned):
    """``g / g.abs().max(-1, keepdim=True)[0]`` (Hugging Face's deformable attention
    ``sampling_offsets.bias``, 14 models): ``max`` with a dim returns a structseq
    (``torch.return_types.max``), which the shape run passed on as the CPU stand-ins'
    outputs instead of meta tensors: nothing was recorded, and the replay divided by the
    stand-ins' values (0.707 where eager has 1)."""
    import math
    import torch
    from test_deferred import check_against_eager
    import fastinit

    class Offsets(torch.nn.Module):
        def __init__(self, heads=8, points=4):
            super().__init__()
            self.bias = torch.nn.Parameter(torch.empty(heads * points * 2))
            thetas = torch.arange(heads, dtype=torch.int64).to(torch.float32) * (2.0 * math.pi / heads)
            g = torch.stack([thetas.cos(), thetas.sin()], -1)
            g = (g / g.abs().max(-1, keepdim=True)[0]).view(heads, 1, 2).repeat(1, points, 1)
            for i in range(points):
                g[:, i, :] *= i + 1
            with torch.no_grad():
                self.bias.copy_(g.view(-1))
            t = torch.arange(6.0).view(3, 2) + 1
            self.register_buffer("values", torch.max(t, -1).values)
            self.register_buffer("indices", t.min(0)[1])

    m = check_against_eager(Offsets, what="bias", make=lambda: fastinit.deferred_init(Offsets))
    assert m.bias.detach()[8:10].tolist() == [1.0, 1.0]  # head 1, theta = pi / 4: (cos, sin) / max = (1, 1)
    assert m.values.tolist() == [2.0, 4.0, 6.0] and m.indices.tolist() == [0, 0]


def test_dtype_reinterpreting_view_is_replayed(poisoned):
    """``torch.view_as_complex(torch.stack([f.cos(), f.sin()], -1))`` (Hugging Face's
    llama4 vision ``freqs_ci``): the buffer is a complex view of a float storage; the
    replay read the storage as floats at the complex view's sizes and strides, so each
    complex element got one float as its real part (34 of 34 elements differ in the sweep)."""
    import torch
    from test_deferred import check_against_eager
    import fastinit

    class Rotary(torch.nn.Module):
        def __init__(self):
            super().__init__()
            f = torch.arange(6.0).view(3, 2) * 0.5
            self.register_buffer("freqs_ci", torch.view_as_complex(torch.stack([f.cos(), f.sin()], -1)),
                                 persistent=False)

    check_against_eager(Rotary, what="freqs_ci", make=lambda: fastinit.deferred_init(Rotary))


def test_factory_with_recorded_scalar_fill(poisoned):
    """``torch.full_like(t, h[-1])`` and layers sized ``h[0]``, with ``h`` computed from
    Python numbers (Hugging Face's inkling ``plan_out_scales``: inkling_vision,
    inkling_mm_model): torch's meta kernels need the values (``Tensor.item() cannot be
    called on meta tensors``); they are known (no random op), as ``item()`` on a recorded
    tensor already is."""
    import torch
    from test_deferred import check_against_eager
    import fastinit

    class Scales(torch.nn.Module):
        def __init__(self):
            super().__init__()
            h = torch.cumprod(torch.tensor([2, 2, 3]), dim=0)
            self.register_buffer("scales", torch.stack([h, torch.full_like(h, h[-1])], dim=1), persistent=False)
            self.proj = torch.nn.Linear(h[0], h[1], bias=False)
            self.norm = torch.nn.Parameter(torch.ones(h[1]))

    m = check_against_eager(Scales, what="scales", make=lambda: fastinit.deferred_init(Scales))
    assert m.scales.tolist() == [[2, 12], [4, 12], [12, 12]]
    assert tuple(m.proj.weight.shape) == (4, 2) and m.norm.tolist() == [1.0] * 4


def test_copy_into_zero_element_parameter(poisoned):
    """``init.copy_(lin.bias, grid.view(-1))`` where the layer has no outputs (Hugging Face's
    lw_detr with ``num_feature_levels=0``, from a shrink): ``deferred_init`` makes a
    zero-element factory result for real (device probes), so the target is a real tensor
    and the source a recorded one: ``DeferredInitError: torch.copy_ on a recorded tensor
    ((0,), torch.float32) cannot run while recording``. Eager copies nothing."""
    import torch
    from test_deferred import check_against_eager
    import fastinit

    class NoOutputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(4, 0)
            self.keep = torch.nn.Linear(4, 4)
            grid = torch.arange(8.0).view(2, 4)[:, :0]
            with torch.no_grad():
                self.proj.bias.copy_(grid.reshape(-1))

    check_against_eager(NoOutputs, what="proj.bias", make=lambda: fastinit.deferred_init(NoOutputs))
