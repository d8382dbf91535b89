"""The compatibility suite: PyTorch programs written for it (plain ``import torch`` code in
tests/compat/programs, in the style of popular public scripts) run unchanged through
``python -m ember.run``, and where PyTorch is installed the same file run by PyTorch prints the
same per-step losses.

Most programs take their initial weights and their batches from NumPy (programs/common.py),
with dropout off, from before ember's generator drew PyTorch's numbers; seq2seq_transformer.py
and forecast_packed.py take everything random from ``torch.manual_seed`` (initialisation, data,
shuffling, dropout, and in forecast_packed.py the noise its DataLoader workers draw), as do
nn_really.py, fused_conv_bn.py, imagenet_loop.py, llama_lora_decode.py, ddpm_unet_ema.py,
maml_meta_sgd.py, dp_sgd_per_sample.py (its noise from a seeded torch.Generator), the two Dive
into Deep Learning programs (d2l_rnn_scratch.py, d2l_transformer.py), fast.ai's miniai Learner
(miniai_learner.py), the UvA tutorial's graph attention (uva_gat.py), the Sobol-sampled PINN
(qmc_pinn_sobol.py, its points from seeded SobolEngines), the DLRM recommender
(dlrm_embedding_bags.py) and the PPO/VAE/flow/contrastive/distillation/neural-ODE mix with the
training utilities, resumed from a torch.save of its whole training state midway
(rl_generative_utils.py). Ten are public code taken as written (MIT or BSD licensed, noted at
their top): PyTorch-GAN's InfoGAN (infogan.py, its noise from a seeded ``np.random``),
pytorch-a2c-ppo-acktr's ACKTR with KFAC (acktr_kfac.py), Udacity's character-level LSTM
(udacity_char_rnn.py, its text and sampling from a seeded ``np.random``), the PyTorch
tutorials' Bi-LSTM CRF (tutorial_bilstm_crf.py), MAML-Pytorch's Learner and Meta
(maml_pytorch_learner.py, in float64: its 1-shot BatchNorm inner loop amplifies float32 rounding),
facebookresearch's Jacobian regularizer (jacobian_regularizer.py), laiguokun's LSTNet
(lstnet_skip_highway.py, saving its whole model), bermanmaxim's Lovasz losses
(lovasz_losses.py, the driving net this suite's), the PyTorch tutorials' spatial transformer
(tutorial_spatial_transformer.py) and fast gradient sign attack (tutorial_fgsm.py, in float64),
and pytorch/examples' gcn and mnist_rnn (examples_gcn_cora.py, examples_mnist_rnn.py: their data
seeded in place of the downloads).
Every other number is computed by the framework under test."""
import concurrent.futures
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from .conftest import REPO, run_ember

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")

# float32 programs: each step's loss as PyTorch's to float32 rounding carried through 20+ steps
# of training. bfloat16 autocast: both frameworks compute the low-precision matmuls and
# convolutions in float32 and round once to bfloat16, but where the float32 sums differ in their
# last bit a value next to a rounding boundary lands one bfloat16 step (2**-8 relative) away;
# a few such elements move a mean loss by far less than that, hence 1e-3.
FLOAT32 = dict(rtol=2e-5, atol=1e-6)
BFLOAT16 = dict(rtol=1e-3, atol=1e-4)
# PyTorch's bfloat16 convolutions and matrix products round differently on CPUs without AVX-512
# (its AVX2 kernels); over 20 steps the losses then drift apart by up to a bfloat16 rounding step
# (eps 7.8e-3), as they would between two PyTorch machines.
BFLOAT16_AVX2 = dict(rtol=1e-2, atol=1e-3)
# A float32 program whose ReLUs after BatchNorm meet values within float32 rounding of zero: on
# an Intel AVX-512 machine one batch-norm output of the first step is 5.3e-8 in float64, rounds
# positive in PyTorch and to -3.9e-7 in ember (each within its float32 error, from convolution
# sums rounded in another order); the one flipped mask element changes that step's gradients by
# up to 10%, and 20 steps later the losses differ by 2e-3 relative (float64 runs agree to 1e-10).
RELU_MASK_FLIP = dict(rtol=5e-3, atol=1e-4)

# PyTorch warns that its C++ sparse kernels skip index checks unless asked; ember's sparse
# tensors always index through checked NumPy/SciPy code, so there is nothing to warn about.
TORCH_ONLY_WARNINGS = ("UserWarning: Sparse invariant checks are implicitly disabled",)

CASES = {
    "gpt_char": (["gpt_char.py", "--steps", "20"], FLOAT32),
    "gpt_char_manual_attention_rmsnorm": (["gpt_char.py", "--steps", "20", "--no-flash",
                                           "--norm", "rmsnorm"], FLOAT32),
    "word_lm_lstm": (["word_lm.py", "--model", "LSTM", "--steps", "24"], FLOAT32),
    "word_lm_transformer": (["word_lm.py", "--model", "Transformer", "--steps", "24"], FLOAT32),
    "gcn": (["gcn.py", "--steps", "25"], FLOAT32),
    "word2vec_sparse_adam": (["word2vec.py", "--steps", "20"], FLOAT32),
    "legacy_mlp": (["legacy_mlp.py", "--steps", "24"], FLOAT32),
    "amp_cpu_bfloat16": (["amp_train.py", "--device-type", "cpu", "--steps", "20"], BFLOAT16),
    "amp_cuda_spelling": (["amp_train.py", "--device-type", "cuda", "--steps", "20"], FLOAT32),
    "rotary_fno_stft": (["spectral.py", "--steps", "20"], FLOAT32),
    "unet_segmentation": (["unet_seg.py", "--steps", "20"], RELU_MASK_FLIP),
    "wgan_gradient_penalty": (["wgan_gp.py", "--steps", "20"], FLOAT32),
    "seq2seq_transformer_seeded": (["seq2seq_transformer.py", "--steps", "20"], FLOAT32),
    "forecast_packed_persistent_workers": (["forecast_packed.py", "--steps", "20"], FLOAT32),
    "nn_really_wrapped_loader": (["nn_really.py", "--steps", "20"], FLOAT32),
    "fused_conv_bn_custom_function": (["fused_conv_bn.py", "--steps", "20"], FLOAT32),
    "imagenet_loop_mixup_ema": (["imagenet_loop.py", "--steps", "20"], FLOAT32),
    "d2l_rnn_scratch_schedulers": (["d2l_rnn_scratch.py", "--steps", "20"], FLOAT32),
    "d2l_transformer_masked_ce": (["d2l_transformer.py", "--steps", "20"], FLOAT32),
    "llama_lora_kv_cache_decode": (["llama_lora_decode.py", "--steps", "20"], FLOAT32),
    "ddpm_unet_guidance_ema": (["ddpm_unet_ema.py", "--steps", "20"], FLOAT32),
    "maml_meta_sgd_vmap_tasks": (["maml_meta_sgd.py", "--steps", "20"], FLOAT32),
    "dp_sgd_per_sample_gradients": (["dp_sgd_per_sample.py", "--steps", "20"], FLOAT32),
    "miniai_learner_callbacks_hooks_lsuv": (["miniai_learner.py", "--steps", "20"], FLOAT32),
    "uva_gat_einsum_dropout": (["uva_gat.py", "--steps", "20"], FLOAT32),
    "qmc_pinn_sobol_windows": (["qmc_pinn_sobol.py", "--steps", "20"], FLOAT32),
    "dlrm_embedding_bags_segment_reduce": (["dlrm_embedding_bags.py", "--steps", "20"], FLOAT32),
    "pytorch_gan_infogan_legacy_variable": (["infogan.py", "--steps", "20"], FLOAT32),
    "acktr_kfac_non_full_backward_hooks": (["acktr_kfac.py", "--steps", "20"], FLOAT32),
    "udacity_char_rnn_lstm_dropout_sampling": (["udacity_char_rnn.py", "--steps", "20"], FLOAT32),
    "tutorial_bilstm_crf_viterbi": (["tutorial_bilstm_crf.py", "--steps", "20"], FLOAT32),
    "maml_pytorch_learner_parameterlist_fast_weights": (["maml_pytorch_learner.py", "--steps",
                                                          "20"], FLOAT32),
    "jacobian_regularizer_input_jvp": (["jacobian_regularizer.py", "--steps", "20"], FLOAT32),
    "lstnet_skip_highway_whole_model_save": (["lstnet_skip_highway.py", "--steps", "20"],
                                             FLOAT32),
    "lovasz_softmax_hinge_losses": (["lovasz_losses.py", "--steps", "20"], FLOAT32),
    "tutorial_spatial_transformer_grid_sample": (["tutorial_spatial_transformer.py", "--steps",
                                                  "20"], FLOAT32),
    "tutorial_fgsm_input_gradients": (["tutorial_fgsm.py", "--steps", "20"], FLOAT32),
    "pytorch_examples_gcn_dense_plus_sparse": (["examples_gcn_cora.py", "--steps", "20"], FLOAT32),
    "pytorch_examples_mnist_rnn_adadelta": (["examples_mnist_rnn.py", "--steps", "20"], FLOAT32),
    "rl_generative_training_utils_resume": (["rl_generative_utils.py", "--steps", "20"],
                                            FLOAT32),
}


# PyTorch runs every program in one process (its import is most of a small program's time):
# each with its own argv, its stdout and the warnings it raised, filtered as in a fresh process,
# and the default dtype a fresh process has (float64 programs set theirs).
REFERENCE_DRIVER = textwrap.dedent("""
    import contextlib, io, json, runpy, sys, traceback, warnings
    import torch
    cases = json.loads(sys.argv[1])
    sys.path.insert(0, sys.argv[2])
    results = {}
    for case, arguments in cases.items():
        sys.argv = arguments
        torch.set_default_dtype(torch.float32)
        stdout = io.StringIO()
        with warnings.catch_warnings(record=True) as caught:
            try:
                with contextlib.redirect_stdout(stdout):
                    runpy.run_path(arguments[0], run_name="__main__")
                error = None
            except BaseException:
                error = traceback.format_exc()
        results[case] = {"stdout": stdout.getvalue(), "error": error,
                         "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]}
    print(json.dumps(results))
""")


def _run_ember(case):
    arguments, _ = CASES[case]
    completed = run_ember(os.path.join(PROGRAMS, arguments[0]), *arguments[1:],
                          module_runner=True)
    error = None if completed.returncode == 0 else completed.stderr[-3000:]
    return {"stdout": completed.stdout, "error": error, "warnings": _warnings(completed.stderr)}


def _run_pytorch():
    cases = {case: [os.path.join(PROGRAMS, arguments[0]), *arguments[1:]]
             for case, (arguments, _) in CASES.items()}
    environment = {**os.environ}
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        environment[name] = "1"
    completed = subprocess.run([sys.executable, "-c", REFERENCE_DRIVER, json.dumps(cases),
                                PROGRAMS], cwd=REPO, capture_output=True, text=True,
                               timeout=300, env=environment)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def outcomes():
    """Every case run once by ember (each through ``python -m ember.run``), and by PyTorch
    where it is installed, the two frameworks side by side."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        reference = None
        if importlib.util.find_spec("torch") is not None:
            reference = pool.submit(_run_pytorch)
        ours = {case: _run_ember(case) for case in sorted(CASES)}
        theirs = {} if reference is None else reference.result()
    return {"ember": ours, "torch": theirs}


def _result(outcome):
    """The JSON report on the last line of a program that ran to its end."""
    assert outcome["error"] is None, outcome["error"]
    return json.loads(outcome["stdout"].strip().splitlines()[-1])


def _warnings(stderr):
    """The category and message of each warning a program printed, without where it came from."""
    return re.findall(r"^\S+:\d+: (\w+Warning: .*)$", stderr, flags=re.MULTILINE)


def _without_framework(value):
    """'torch.float32' and 'ember.float32' alike: the dtype names a program printed."""
    return [name.split(".")[-1] for name in value]


@pytest.fixture(params=sorted(CASES))
def case(request):
    return request.param


def test_program_runs_unchanged_and_learns(case, outcomes):
    arguments, _ = CASES[case]
    losses = _result(outcomes["ember"][case])["losses"]
    steps = int(arguments[arguments.index("--steps") + 1])
    assert len(losses) == steps + (3 if case.startswith("gpt_char") else 0)
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < losses[0]


def test_program_matches_pytorch(case, outcomes, torch):
    _, tolerance = CASES[case]
    if tolerance is BFLOAT16 and torch.backends.cpu.get_cpu_capability() != "AVX512":
        tolerance = BFLOAT16_AVX2
    ours = outcomes["ember"][case]
    reference = outcomes["torch"][case]
    mine = _result(ours)
    theirs = _result(reference)
    assert len(mine["losses"]) >= 20
    np.testing.assert_allclose(mine["losses"], theirs["losses"], **tolerance)
    for key, value in theirs.items():
        if key == "losses":
            continue
        if isinstance(value, float):
            np.testing.assert_allclose(mine[key], value, **tolerance, err_msg=key)
        elif isinstance(value, list) or key.endswith("dtype"):
            assert _without_framework(np.atleast_1d(mine[key])) == \
                _without_framework(np.atleast_1d(value)), key
        else:
            assert mine[key] == value, key
    # ember's warnings are read from stderr one line each: the first line of PyTorch's
    assert ours["warnings"] == [message.split("\n")[0] for message in reference["warnings"]
                                if not message.startswith(TORCH_ONLY_WARNINGS)]
