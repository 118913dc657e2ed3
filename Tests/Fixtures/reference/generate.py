#!/usr/bin/env python3
"""Reference-equivalence fixtures for cilbench (issue 10), produced by the official code.

Runs the official AANets repository's own functions (yaoyao-liu/class-incremental-learning,
folder adaptive-aggregation-networks): its ResNet-32 (plain and MTL), its
`init_current_phase_model`, `imprint_weights`, `set_optimizer` (BaseTrainer methods,
called on a small stand-in object that carries the attributes they read), and its train
functions `incremental_train_and_eval_zeroth_phase` and `incremental_train_and_eval`
(LUCIR, single and dual branch) through one-batch loaders, and writes what they produce
as JSON fixtures. No reference code is copied: it is imported from a local checkout.

Inputs both sides build exactly (no weight or image file is needed):
  * every parameter and BN buffer comes from `formula_values(name, n, lo, hi)` below
    (splitmix64 keyed by the FNV-1a hash of the reference parameter name); the Swift test
    implements the same formula;
  * every image is uint8 HWC from the same formula, normalised as the reference's CIFAR
    test transform does (ToTensor: /255 in float32; Normalize: -mean, /std in float32).

See README.md next to this file for the exact command.
"""
import argparse
import importlib.machinery
import io
import copy
import json
import math
import os
import subprocess
import sys
import time
import types

import numpy as np

MASK = (1 << 64) - 1
CIFAR_MEAN = (0.5071, 0.4866, 0.4409)
CIFAR_STD = (0.2009, 0.1984, 0.2023)
SAMPLES = 4  # entries sampled per tensor


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def splitmix_words(key, n):
    """Word i = splitmix64 finaliser of key + (i+1)*golden, as uint64 (numpy wraps)."""
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(key) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


def formula_values(name, n, lo, hi):
    """n float32 values: lo + (hi - lo) * u, u = (word >> 40) / 2^24, computed in float64."""
    u = (splitmix_words(fnv1a64(name), n) >> np.uint64(40)).astype(np.float64) / 16777216.0
    return (lo + (hi - lo) * u).astype(np.float32)


def formula_images(name, count, size=32):
    """count uint8 HWC size x size x 3 images: the top byte of each word."""
    words = splitmix_words(fnv1a64(name), count * size * size * 3)
    return (words >> np.uint64(56)).astype(np.uint8).reshape(count, size, size, 3)


def value_range(name, shape):
    """The range each reference tensor is drawn from (mirrored in the Swift test)."""
    if name.endswith("running_mean"):
        return -0.2, 0.2
    if name.endswith("running_var"):
        return 0.5, 1.5
    if name == "fc.sigma":
        return 2.5, 2.5
    if name.startswith("fc."):
        b = 1.0 / math.sqrt(shape[1])
        return -b, b
    if len(shape) == 4:
        fan_in = shape[1] * shape[2] * shape[3]
        b = math.sqrt(6.0 / fan_in)
        return -b, b
    if name.endswith("bn2.weight"):  # the residual branch's last BN gamma: small, so the
        return 0.05, 0.25             # untrained net is well conditioned (see README)
    if name.endswith(".weight"):  # BN gamma
        return 0.5, 1.5
    if name.endswith(".bias"):  # BN beta
        return -0.2, 0.2
    raise ValueError(name)


def set_formula_weights(model, torch):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            lo, hi = value_range(name, tuple(t.shape))
            t.copy_(torch.from_numpy(formula_values(name, t.numel(), lo, hi)).view(t.shape))


def normalise(images_u8, torch):
    x = torch.from_numpy(images_u8).permute(0, 3, 1, 2).contiguous().to(torch.float32).div(255)
    mean = torch.tensor(CIFAR_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD, dtype=torch.float32).view(1, 3, 1, 1)
    return x.sub(mean).div(std)


def install_stubs():
    """Modules the reference imports at file level but the called functions never use."""
    def stub(name, **attrs):
        m = types.ModuleType(name)
        m.__spec__ = importlib.machinery.ModuleSpec(name, None)
        for k, v in attrs.items():
            setattr(m, k, v)
        sys.modules[name] = m
        return m
    tv = stub("torchvision", datasets=None, models=None, transforms=None)
    stub("torchvision.datasets"); stub("torchvision.models"); stub("torchvision.transforms")
    tv.datasets = sys.modules["torchvision.datasets"]
    stub("tensorboardX", SummaryWriter=None)
    pil = stub("PIL"); stub("PIL.Image"); pil.Image = sys.modules["PIL.Image"]
    sp = stub("scipy"); stub("scipy.spatial"); stub("scipy.spatial.distance", cdist=None)
    sk = stub("sklearn"); stub("sklearn.metrics", confusion_matrix=None)
    stub("tqdm")


def f32(x):
    """A float32 value in its shortest round-tripping decimal form (keeps the files small)."""
    return float(f"{float(x):.9g}")


def f64(x):
    return float(f"{float(x):.12g}")


def sample_indices(n):
    """The entries sampled from a tensor of n elements (the Swift test computes the same)."""
    return sorted({(i * n) // SAMPLES + (i * 7919) % max(n // SAMPLES, 1) for i in range(SAMPLES)})


def tensor_stats(t, torch):
    v = t.detach().to(torch.float64).reshape(-1)
    n = v.numel()
    flat = t.detach().reshape(-1)
    return {"count": n, "sum": f64(v.sum()), "sumsq": f64((v * v).sum()),
            "values": [f32(flat[i]) for i in sample_indices(n)]}


def model_stats(prefix, model, optimizer, torch):
    out = {}
    state = optimizer.state if optimizer is not None else {}
    for name, p in model.named_parameters():
        entry = {"value": tensor_stats(p, torch)}
        buf = state.get(p, {}).get("momentum_buffer") if p in state else None
        if buf is not None:
            entry["momentum"] = tensor_stats(buf, torch)
        out[prefix + name] = entry
    for name, b in model.named_buffers():
        if name.endswith("num_batches_tracked"):
            continue
        out[prefix + name] = {"value": tensor_stats(b, torch)}
    return out


def shim_margin_ranking_loss(torch):
    """torch >= 1.x rejects the reference's call (inputs [N,1], target [N]); torch 0.4, which
    LUCIR was written for, broadcast the target to [N,N]. The target is all ones there, so every
    row of that matrix holds the same values and the mean is the per-pair mean: giving the
    target the inputs' shape computes exactly the same number. The only torch-2 shim."""
    import torch.nn.functional as F
    original = F.margin_ranking_loss

    def shimmed(input1, input2, target, *a, **kw):
        if target.dim() != input1.dim():
            assert bool((target == 1).all())
            target = target.view_as(input1)
        return original(input1, input2, target, *a, **kw)
    F.margin_ranking_loss = shimmed


class Recorder:
    """A global forward hook recording every loss module's output, in call order."""
    KINDS = ("CrossEntropyLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "KLDivLoss")

    def __init__(self, torch):
        self.events = []
        self.handle = torch.nn.modules.module.register_module_forward_hook(self.hook)

    def hook(self, module, inputs, output):
        kind = type(module).__name__
        if kind in self.KINDS:
            self.events.append((kind, float(output.detach().reshape(-1)[0])))

    def close(self):
        self.handle.remove()


class TensorSet:
    """A dataset over uint8 HWC `data`, transformed as the reference's CIFAR test transform."""
    def __init__(self, torch):
        self.torch = torch
        self.data = np.zeros((0, 32, 32, 3), np.uint8)
        self.targets = np.zeros(0)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        x = normalise(self.data[i:i + 1], self.torch)[0]
        return x, int(self.targets[i])


def one_batch_loader(torch, images_u8, labels):
    ds = TensorSet(torch)
    ds.data, ds.targets = images_u8, np.asarray(labels)
    return torch.utils.data.DataLoader(ds, batch_size=len(images_u8), shuffle=False, num_workers=0)


def load_with_stand_ins(path, module_name, stand_ins):
    """Loads the reference file at `path` as `module_name` while the modules it imports at
    file level, but the called code never uses, are empty stand-ins (`stand_ins`: module
    name -> attributes); sys.modules is restored afterwards."""
    import importlib.util
    saved = {name: sys.modules.get(name) for name in stand_ins}
    for name, attributes in stand_ins.items():
        m = types.ModuleType(name)
        for key, value in attributes.items():
            setattr(m, key, value)
        sys.modules[name] = m
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return module


def formula_linear_net(torch, phase0_model, classes, as_dict):
    """The formula ResNet-32 backbone and a linear head whose rows come from the formula
    (the first `classes` of 6), returning PyCIL's {"logits"} or, for Mammoth, the logits."""
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            resnet = phase0_model()
            self.backbone = torch.nn.Sequential(*list(resnet.children())[:-1])
            self.fc = torch.nn.Linear(64, classes)
            with torch.no_grad():
                self.fc.weight.copy_(torch.from_numpy(formula_values("linear.weight", 6 * 64, -0.125, 0.125)).view(6, 64)[:classes])
                self.fc.bias.copy_(torch.from_numpy(formula_values("linear.bias", 6, -0.125, 0.125))[:classes])

        def forward(self, x):
            logits = self.fc(self.backbone(x).flatten(1))
            return {"logits": logits} if as_dict else logits
    return Net()


def linear_net_stats(net, optimizer, torch):
    stats = {}
    for name, p in net.named_parameters():
        entry = {"value": tensor_stats(p, torch)}
        buf = optimizer.state[p].get("momentum_buffer") if p in optimizer.state else None
        if buf is not None:
            entry["momentum"] = tensor_stats(buf, torch)
        stats[name] = entry
    for name, b in net.named_buffers():
        if not name.endswith("num_batches_tracked"):
            stats[name] = {"value": tensor_stats(b, torch)}
    return stats


def pycil_lwf(repo, torch, stamp, phase0_model, new_images, new_labels):
    import importlib.util
    repo = os.path.abspath(repo)
    stamp["pycil_repository"] = "G-U-N/PyCIL"
    stamp["pycil_commit"] = subprocess.check_output(["git", "-C", repo, "rev-parse", "HEAD"], text=True).strip()
    # PyCIL's packages are also called `models` and `utils`; its lwf.py is loaded from its
    # path, with the two modules it needs besides torch: utils/toolkit.py (loaded from
    # PyCIL), and stand-ins for utils/inc_net.py (IncrementalNet, not used here) and
    # models/base.py (BaseLearner, whose methods _update_representation does not call except
    # _compute_accuracy, provided by the stand-in learner).
    def load(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    saved = {k: sys.modules.get(k) for k in ("utils.toolkit", "utils.inc_net", "models.base", "tqdm")}
    sys.modules["utils.toolkit"] = load("pycil_toolkit", os.path.join(repo, "utils", "toolkit.py"))
    sys.modules["utils.inc_net"] = types.SimpleNamespace(IncrementalNet=None)
    sys.modules["models.base"] = types.SimpleNamespace(BaseLearner=object)

    class Bar:
        def __init__(self, it): self.it = it
        def __iter__(self): return iter(self.it)
        def set_description(self, text): pass
    sys.modules["tqdm"] = types.SimpleNamespace(tqdm=Bar)
    lwf = load("pycil_lwf", os.path.join(repo, "models", "lwf.py"))
    for k, v in saved.items():
        if v is None:
            sys.modules.pop(k, None)
        else:
            sys.modules[k] = v

    recorded = []

    class RecordingF:
        def __getattr__(self, name):
            return getattr(torch.nn.functional, name)

        def cross_entropy(self, *a, **kw):
            out = torch.nn.functional.cross_entropy(*a, **kw)
            recorded.append(("ce", float(out)))
            return out
    lwf.F = RecordingF()
    original_kd = lwf._KD_loss

    def recording_kd(*a, **kw):
        out = original_kd(*a, **kw)
        recorded.append(("kd", float(out)))
        return out
    lwf._KD_loss = recording_kd

    def Net(classes):
        return formula_linear_net(torch, phase0_model, classes, as_dict=True)

    class IndexedSet(TensorSet):
        def __getitem__(self, i):
            x, y = TensorSet.__getitem__(self, i)
            return i, x, y

    out = {}
    for k in (1, 3):
        recorded.clear()
        old = Net(4).eval()
        for p in old.parameters():
            p.requires_grad = False
        net = Net(6)
        learner = types.SimpleNamespace(_network=net, _old_network=old, _known_classes=4, _device=torch.device("cpu"),
                                        _cur_task=1, _compute_accuracy=lambda *a: 0.0)
        # LwF._train's optimiser for tasks > 0 (l.89-97): all parameters, lr 0.1, wd 2e-4.
        opt = torch.optim.SGD(net.parameters(), lr=lwf.lrate, momentum=0.9, weight_decay=lwf.weight_decay)
        sched = torch.optim.lr_scheduler.MultiStepLR(optimizer=opt, milestones=lwf.milestones, gamma=lwf.lrate_decay)
        ds = IndexedSet(torch)
        ds.data, ds.targets = new_images, np.asarray(new_labels)
        loader = torch.utils.data.DataLoader(ds, batch_size=len(new_images), shuffle=False, num_workers=0)
        lwf.epochs = k  # the module's epoch count (250) is the only setting changed
        lwf.LwF._update_representation(learner, loader, None, opt, sched)
        steps = []
        for e in range(k):
            (n1, ce), (n2, kd) = recorded[2 * e], recorded[2 * e + 1]
            assert (n1, n2) == ("ce", "kd")
            steps.append({"ce_new": ce, "kd": kd})
        stats = linear_net_stats(net, opt, torch)
        out[f"lwf-kd-phase1-k{k}"] = {"method": "lwf", "phase": 1, "aanets": False, "steps": k, "T": lwf.T, "lamda": lwf.lamda,
                                      "learning_rate": lwf.lrate, "weight_decay": lwf.weight_decay, "losses": steps,
                                      "parameters": stats}
    return out


def mammoth_lwf_mc(repo, torch, stamp, phase0_model, p0_images, p0_labels, new_images, new_labels):
    """LwF.MC (iCaRL's sigmoid binary cross-entropy without exemplars) through Mammoth's own
    `LwFMC.observe` and `LwFMC.get_loss` (models/lwf_mc.py), on a stand-in model object that
    holds the attributes they read. Mammoth numbers classes per task: its old classes are
    task_idx * N_CLASSES_PER_TASK and its seen ones (task_idx + 1) * N_CLASSES_PER_TASK, so
    the stand-in says phase 0 is task 0 of 4 classes and phase 1 (4 old, 2 new) task 2 of 2.
    The optimiser is the one every fixture here uses (SGD lr 0.1, momentum 0.9, weight decay
    2e-4), set as the stand-in's `opt`; Mammoth's own default (momentum 0) is a setting."""
    repo = os.path.abspath(repo)
    stamp["mammoth_repository"] = "aimagelab/mammoth"
    stamp["mammoth_commit"] = subprocess.check_output(["git", "-C", repo, "rev-parse", "HEAD"], text=True).strip()
    # lwf_mc.py imports these at file level; the two methods called here use none of them.
    LwFMC = load_with_stand_ins(os.path.join(repo, "models", "lwf_mc.py"), "mammoth_lwf_mc", {
        "datasets": {"get_dataset": None}, "utils": {}, "utils.args": {"ArgumentParser": argparse.ArgumentParser},
        "models": {}, "models.utils": {}, "models.utils.continual_model": {"ContinualModel": object}}).LwFMC

    out = {}
    cases = [("lwf-mc-phase0", 0, 4, 0, 4, p0_images, p0_labels), ("lwf-mc-phase1", 1, 2, 2, 6, new_images, new_labels)]
    for label, phase, per_task, task, seen, images, labels in cases:
        for k in (1, 3):
            net = formula_linear_net(torch, phase0_model, seen, as_dict=False)
            old = None
            if phase > 0:
                old = formula_linear_net(torch, phase0_model, 4, as_dict=False).eval()
                for p in old.parameters():
                    p.requires_grad = False
            opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
            model = types.SimpleNamespace(current_task=task, dataset=types.SimpleNamespace(N_CLASSES_PER_TASK=per_task),
                                          eye=torch.eye(seen), net=net, old_net=old, opt=opt, args=types.SimpleNamespace(wd_reg=0.0))
            model.get_loss = lambda *a, model=model: LwFMC.get_loss(model, *a)
            x = normalise(images, torch)
            y = torch.tensor(labels, dtype=torch.long)
            losses = [{"bce": LwFMC.observe(model, x, y, x)} for _ in range(k)]
            out[f"{label}-k{k}"] = {"method": "lwf", "loss": "bce", "phase": phase, "aanets": False, "steps": k,
                                    "old_classes": task * per_task, "seen_classes": seen, "labels": list(labels),
                                    "learning_rate": 0.1, "momentum": 0.9, "weight_decay": 2e-4, "losses": losses,
                                    "parameters": linear_net_stats(net, opt, torch)}
    return out


def podnet_cifar_backbone(repo, torch):
    """PODNet's CIFAR ResNet-32 (`inclearn/convnet/my_resnet.py` `resnet_rebuffi`, the
    `convnet: rebuffi` of its CIFAR configs) with every parameter and BN buffer from the
    formula, keyed by PODNet's own names (the residual branch's last BN, `bn_b`, drawn as
    `bn2` is: small γ). One training-mode forward of the 8 phase-0 images, then backward of
    the probe Σ raw_features ⊙ v (v from the formula, [8, 64], ±1): the four attention maps
    (permuted to NHWC), both pooled features, every gradient and the BN running statistics
    after the forward."""
    repo = os.path.abspath(repo)
    # `pooling` is Weldon pooling, unused with average pooling.
    module = load_with_stand_ins(os.path.join(repo, "inclearn", "convnet", "my_resnet.py"), "podnet_my_resnet",
                                 {"inclearn": {}, "inclearn.lib": {"pooling": None}})
    net = module.resnet_rebuffi()
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            lo, hi = value_range(name.replace("bn_b.", "bn2."), tuple(t.shape))
            t.copy_(torch.from_numpy(formula_values(name, t.numel(), lo, hi)).view(t.shape))
    net.train()
    x = normalise(formula_images("batch.phase0", 8), torch)
    out = net(x)
    probe = torch.from_numpy(formula_values("podnet.probe", 8 * 64, -1.0, 1.0)).view(8, 64)
    (out["raw_features"] * probe).sum().backward()
    nhwc = lambda t: t.detach().permute(0, 2, 3, 1).contiguous()
    return {"network": "inclearn/convnet/my_resnet.py resnet_rebuffi() (n=5, nf=16, avg pooling, stride down-sampling, last_relu False)",
            "images": "batch.phase0", "probe": "podnet.probe", "mode": "training",
            "attention": [tensor_stats(nhwc(a), torch) for a in out["attention"]],
            "raw_features": tensor_stats(out["raw_features"], torch), "features": tensor_stats(out["features"], torch),
            "gradients": {n: tensor_stats(p.grad, torch) for n, p in net.named_parameters()},
            "buffers": {n: tensor_stats(b, torch) for n, b in net.named_buffers() if not n.endswith("num_batches_tracked")}}


def podnet_imagenet_backbone(repo, torch):
    """PODNet's ImageNet ResNet-18 (`inclearn/convnet/resnet.py` `resnet18(nf=64)`, the
    `convnet: resnet18` with `nf: 64` of its ImageNet configs: 3x3 stride-1 stem, no ReLU
    after a stage's last block) with formula weights under its own (torchvision) names, one
    training-mode forward of 4 formula images at 32x32 (adaptive average pooling), backward
    of Σ raw_features ⊙ v (v: formula `podnet18.probe`, [4, 512], ±1)."""
    module = load_with_stand_ins(os.path.join(os.path.abspath(repo), "inclearn", "convnet", "resnet.py"), "podnet_resnet", {})
    net = module.resnet18(nf=64)
    set_formula_weights(net, torch)
    net.train()
    out = net(normalise(formula_images("batch.phase0", 4), torch))
    probe = torch.from_numpy(formula_values("podnet18.probe", 4 * 512, -1.0, 1.0)).view(4, 512)
    (out["raw_features"] * probe).sum().backward()
    nhwc = lambda t: t.detach().permute(0, 2, 3, 1).contiguous()
    return {"network": "inclearn/convnet/resnet.py resnet18(nf=64)", "images": "batch.phase0 (first 4)",
            "probe": "podnet18.probe", "mode": "training",
            "attention": [tensor_stats(nhwc(a), torch) for a in out["attention"]],
            "raw_features": tensor_stats(out["raw_features"], torch),
            "gradients": {n: tensor_stats(p.grad, torch) for n, p in net.named_parameters()},
            "buffers": {n: tensor_stats(b, torch) for n, b in net.named_buffers() if not n.endswith("num_batches_tracked")}}


def podnet_losses(repo, torch, stamp):
    import importlib.util
    repo = os.path.abspath(repo)
    stamp["podnet_repository"] = "arthurdouillard/incremental_learning.pytorch"
    stamp["podnet_commit"] = subprocess.check_output(["git", "-C", repo, "rev-parse", "HEAD"], text=True).strip()
    # distillation.py imports inclearn.lib.vizualization (plots, unused by `pod`): stand-in.
    sys.modules.setdefault("inclearn", types.ModuleType("inclearn"))
    lib = sys.modules.setdefault("inclearn.lib", types.ModuleType("inclearn.lib"))
    lib.vizualization = types.ModuleType("inclearn.lib.vizualization")

    def load(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    base = load("podnet_losses_base", os.path.join(repo, "inclearn", "lib", "losses", "base.py"))
    distillation = load("podnet_losses_distillation", os.path.join(repo, "inclearn", "lib", "losses", "distillation.py"))
    if not hasattr(torch, "frobenius_norm"):
        # Removed from recent torch; for a vector norm over dim=-1 it is the L2 norm.
        torch.frobenius_norm = lambda x, dim: torch.linalg.vector_norm(x, ord=2, dim=dim)

    shapes = [(4, 4, 5, 6), (4, 8, 3, 3), (4, 8, 2, 2)]
    student = [torch.from_numpy(formula_values(f"pod.student{i}", int(np.prod(sh)), -1, 1)).view(sh).requires_grad_() for i, sh in enumerate(shapes)]
    teacher = [torch.from_numpy(formula_values(f"pod.teacher{i}", int(np.prod(sh)), -1, 1)).view(sh) for i, sh in enumerate(shapes)]
    # podnet.py _compute_loss: pod(old attentions, new attentions, collapse_channels="spatial", ...)
    spatial = distillation.pod(teacher, student, collapse_channels="spatial", normalize=True)
    spatial.backward()
    scores = torch.from_numpy(formula_values("nca.scores", 6 * 5, -2, 0)).view(6, 5).requires_grad_()
    scale = torch.tensor([1.7], requires_grad=True)
    targets = torch.tensor([0, 1, 2, 3, 4, 2])
    nca = base.nca(scores, targets, scale=scale, margin=0.6, exclude_pos_denominator=True)
    nca.backward()
    return {"shapes": shapes, "spatial": f64(spatial),
            "spatial_grads": [[f32(v) for v in t.grad.reshape(-1).tolist()] for t in student],
            "nca_targets": targets.tolist(), "nca_scale": 1.7, "nca_margin": 0.6, "nca": f64(nca),
            "nca_score_grads": [f32(v) for v in scores.grad.reshape(-1).tolist()], "nca_scale_grad": f64(scale.grad[0])}


def mnemonics_exemplar_step(repo, torch, steps, lr):
    """Mnemonics' exemplar step, by running the reference's own `Trainer.train()`
    ([MAN] `mnemonics-training/1_train/trainer/mnemonics.py`, l.57-435) end to end on a
    stand-in dataset: 3 classes of 12 formula images (`mnemonics.class<c>`), phase 0 with 2
    classes and phase 1 with 1 (`--nb_cl_fg 2 --nb_cl 1`), 4 exemplars per class
    (`--dynamic_budget`), `steps` mnemonics epochs over a one-batch loader. Both phases'
    networks are the formula ResNet-32 (loaded through the code's own `--resume_fg` and
    `--resume` paths), so the fixture covers herding, the exemplar objective, its SGD and
    the write-back, not training. What differs from the reference's run, and why:
      * torchvision and PIL are stand-ins: ToTensor (/255 in float32) and Normalize
        ((x - mean) / std in float32) as torchvision computes them, `Image.fromarray` the
        identity, and the training augmentation (RandomCrop, RandomHorizontalFlip) off, as
        in every fixture here;
      * CIFAR100 is a stand-in holding the formula images in the old torchvision attribute
        names the code reads (`train_data`, `test_data`, ...);
      * `torch.load` is called with `weights_only=False` (the default before torch 2.6,
        which the code was written for);
      * `utils/misc.py` reads the terminal size at import; it is answered "24 80";
      * `compute_accuracy` (evaluation after the step, not compared) returns zeros, and
        tensorboardX's writer is an empty stand-in;
      * `F.cross_entropy` in the trainer module is wrapped to record each step's loss, and
        `process_mnemonics` to record the exemplars before and after the write-back.
    Returns the fixtures {"mnemonics-phase{0,1}-k<steps>"}."""
    import functools
    import tempfile
    root = os.path.join(os.path.abspath(repo), "mnemonics-training", "1_train")
    for name in list(sys.modules):
        if name.split(".")[0] in ("models", "trainer", "utils"):
            del sys.modules[name]
    sys.path.insert(0, root)

    class ToTensor:
        def __call__(self, img):
            return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).contiguous().to(torch.float32).div(255)

    class Normalize:
        def __init__(self, mean, std):
            self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
            self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

        def __call__(self, x):
            return x.sub(self.mean).div(self.std)

    class Compose:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, x):
            for step in self.steps:
                x = step(x)
            return x

    def augmentation_off(*_, **__):
        return lambda x: x

    per_class, test_per_class, classes = 12, 2, 3
    train_images = np.concatenate([formula_images(f"mnemonics.class{c}", per_class) for c in range(classes)])
    train_labels = np.repeat(np.arange(classes), per_class)
    test_images = np.concatenate([formula_images(f"mnemonics.test{c}", test_per_class) for c in range(classes)])
    test_labels = np.repeat(np.arange(classes), test_per_class)

    class CIFAR100:
        def __init__(self, root, train=True, download=False, transform=None):
            self.transform = transform
            if train:
                self.train_data, self.train_labels = train_images.copy(), train_labels.copy()
            else:
                self.test_data, self.test_labels = test_images.copy(), test_labels.copy()
            self.train = train

        def __len__(self):
            return len(self.train_data if self.train else self.test_data)

        def __getitem__(self, i):
            data, labels = (self.train_data, self.train_labels) if self.train else (self.test_data, self.test_labels)
            return self.transform(data[i]), int(labels[i])

    transforms = types.SimpleNamespace(Compose=Compose, ToTensor=ToTensor, Normalize=Normalize,
                                       RandomCrop=augmentation_off, RandomHorizontalFlip=augmentation_off)

    class Writer:
        def __init__(self, *a, **kw):
            pass

        def add_scalar(self, *a, **kw):
            pass

        def close(self):
            pass

    stand_ins = {"torchvision": {"datasets": types.SimpleNamespace(CIFAR100=CIFAR100), "transforms": transforms, "models": None},
                 "torchvision.datasets": {"CIFAR100": CIFAR100}, "torchvision.transforms": vars(transforms),
                 "torchvision.models": {}, "tensorboardX": {"SummaryWriter": Writer},
                 "PIL": {"Image": types.SimpleNamespace(fromarray=lambda a: a)}, "PIL.Image": {"fromarray": lambda a: a},
                 "scipy": {}, "scipy.spatial": {}, "scipy.spatial.distance": {"cdist": None}, "tqdm": {}}
    for name, attributes in stand_ins.items():
        m = types.ModuleType(name)
        m.__spec__ = importlib.machinery.ModuleSpec(name, None)
        for key, value in attributes.items():
            setattr(m, key, value)
        sys.modules[name] = m
    # utils/misc.py asks `stty size` at import (for a progress bar the step never draws),
    # which fails without a terminal: the question gets a terminal's answer during import.
    popen = os.popen
    os.popen = lambda command, *a: io.StringIO("24 80\n") if command == "stty size" else popen(command, *a)
    try:
        import trainer.mnemonics as module
    finally:
        os.popen = popen
    import models.modified_resnet_cifar as resnet_cifar
    import models.modified_linear as modified_linear

    losses, records = [], []
    functional = torch.nn.functional

    class RecordingFunctional:
        def __getattr__(self, name):
            return getattr(functional, name)

        def cross_entropy(self, *a, **kw):
            out = functional.cross_entropy(*a, **kw)
            losses.append(float(out))
            return out
    module.F = RecordingFunctional()
    original_process = module.process_mnemonics

    def recording_process(X_protoset_cumuls, Y_protoset_cumuls, mnemonics_raw, *a, **kw):
        before = [np.array(x, dtype=np.uint8) for x in X_protoset_cumuls]
        optimised = mnemonics_raw[0].detach().clone()
        gradient = mnemonics_raw[0].grad.detach().clone()  # the last step's, not yet zeroed
        out = original_process(X_protoset_cumuls, Y_protoset_cumuls, mnemonics_raw, *a, **kw)
        records.append({"before": before, "optimised": optimised, "gradient": gradient, "after": [np.array(x) for x in out],
                        "labels": [int(np.asarray(y).reshape(-1)[0]) for y in Y_protoset_cumuls]})
        return out
    module.process_mnemonics = recording_process
    module.compute_accuracy = lambda *a, **kw: (np.zeros(4), None)
    load = torch.load
    module.torch.load = functools.partial(load, weights_only=False)

    workdir = tempfile.mkdtemp()
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        model = resnet_cifar.resnet32(num_classes=2)
        set_formula_weights(model, torch)
        torch.save(model, os.path.join(workdir, "phase0.pth"))
        args = types.SimpleNamespace(
            dataset="cifar100", num_classes=classes, nb_cl_fg=2, nb_cl=1, nb_protos=4, nb_runs=1, epochs=0,
            method="mnemonics", resume=True, resume_fg=True, ckpt_dir_fg=os.path.join(workdir, "phase0.pth"),
            dynamic_budget=True, fusion_mode="free", num_workers=0, dictionary_size=per_class, rs_ratio=0,
            lamda=5, dist=0.5, K=2, lw_mr=1, random_seed=1993, train_batch_size=128, test_batch_size=100,
            eval_batch_size=128, base_lr1=0.1, base_lr2=0.1, lr_factor=0.1, custom_weight_decay=5e-4,
            custom_momentum=0.9, maml_lr=0.1, maml_epoch=50, mnemonics_steps=20, mnemonics_epochs=1,
            mnemonics_lr=1e-5, mnemonics_outer_lr=lr, mnemonics_decay_factor=0.5,
            mnemonics_total_epochs=steps, mnemonics_decay_epochs=1)
        trainer = module.Trainer(args)
        # Phase 1 resumes from this file: the same formula network with the code's split head.
        phase1 = copy.deepcopy(model)
        head = modified_linear.SplitCosineLinear(64, 2, 1)
        head.fc1.weight.data = model.fc.weight.data.clone()
        head.fc2.weight.data = torch.from_numpy(formula_values("mnemonics.fc2", 64, -0.125, 0.125)).view(1, 64)
        head.sigma.data = model.fc.sigma.data.clone()
        phase1.fc = head
        torch.save(phase1, os.path.join(trainer.save_path, "run_0_iteration_2_model.pth"))
        torch.manual_seed(0)  # the one-batch loader's shuffle
        trainer.train()
        order = [int(c) for c in module.utils.misc.unpickle(os.path.join(trainer.save_path, "seed_1993_cifar100_order_run_0.pkl"))]
    finally:
        os.chdir(cwd)
        module.torch.load = load
        sys.path.remove(root)

    def encode(a):
        import base64
        return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()

    fixtures = {}
    for phase, record in enumerate(records):
        new = record["labels"] if phase == 0 else record["labels"][-1:]
        first = len(record["before"]) - len(new)
        exemplars, optimised = [], []
        for k, label in enumerate(new):
            before = record["before"][first + k]
            images = train_images[train_labels == label]
            exemplars.append([int(next(i for i in range(per_class) if np.array_equal(images[i], b))) for b in before])
            start = normalise(before, torch)
            after = record["optimised"][k]
            optimised.append({"update": tensor_stats(after - start, torch), "value": tensor_stats(after, torch),
                              "last_gradient": tensor_stats(record["gradient"][k], torch),
                              "stored": encode(record["after"][first + k])})
        fixtures[f"mnemonics-phase{phase}-k{steps}"] = {
            "class_order": order, "images_per_class": per_class, "exemplars_per_class": 4,
            "new_classes": new, "old_classes": record["labels"][:first],
            "exemplars": exemplars, "old_stored": [encode(x) for x in record["after"][:first]],
            "losses": losses[phase * steps:(phase + 1) * steps], "outer_lr": lr,
            "learning_rates": [lr * 0.5 ** (e + 1) for e in range(steps)], "optimised": optimised}
    return fixtures


class Progress:
    """tqdm's place in the PODNet training loops: iterates, ignores the description."""
    def __init__(self, iterable, **kw):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def set_description(self, *_):
        pass


def podnet_stack(repo, torch, mtl=False):
    """The files of a PODNet-style checkout (PODNet's own or POD-AANets) that its training
    step runs, each loaded from its path with stand-ins for the imports the step never
    uses: distance, utils (for `to_onehot` and `check_loss`), the post-processors, the
    classifiers, the CIFAR ResNet (and with `mtl` its MTL twin), `BasicNet`, the losses, and
    `factory`, whose `get_optimizer`, `get_convnet` and `get_lr_scheduler` are taken from
    `factory.py` and run with the names they use (the file imports every model and network
    of the repository)."""
    repo = os.path.abspath(repo)
    lib = os.path.join(repo, "inclearn", "lib")

    def real(path, name, stand_ins):
        return load_with_stand_ins(os.path.join(repo, path), name, stand_ins)

    k = types.SimpleNamespace(real=real)
    distance = real("inclearn/lib/distance.py", "inclearn.lib.distance", {})
    k.utils = real("inclearn/lib/utils.py", "inclearn.lib.utils",
                   {"matplotlib": {}, "matplotlib.pyplot": {}, "sklearn": {"manifold": None},
                    "sklearn.cluster": {"KMeans": None}, "sklearn.neighbors": {"KNeighborsClassifier": None}})
    postprocessors = real("inclearn/lib/network/postprocessors.py", "inclearn.lib.network.postprocessors", {})
    package = {"inclearn": {}, "inclearn.lib": {"distance": distance, "utils": k.utils},
               "inclearn.lib.network": {}, "inclearn.lib.network.postprocessors": dict(vars(postprocessors))}
    classifiers = real("inclearn/lib/network/classifiers.py", "inclearn.lib.network.classifiers",
                       dict(package, **{"sklearn": {}, "sklearn.cluster": {"KMeans": None}}))
    k.factory = types.ModuleType("podnet_factory")
    k.factory.torch, k.factory.optim, k.factory.warnings = torch, torch.optim, __import__("warnings")
    k.factory.my_resnet = real("inclearn/convnet/my_resnet.py", "podnet_my_resnet", {"inclearn": {}, "inclearn.lib": {"pooling": None}})
    if mtl:
        conv_mtl = real("inclearn/convnet/tools/conv_mtl.py", "inclearn.convnet.tools.conv_mtl", {})
        k.factory.my_resnet_mtl = real("inclearn/convnet/my_resnet_mtl.py", "podnet_my_resnet_mtl",
                                       {"inclearn": {}, "inclearn.lib": {"pooling": None}, "inclearn.convnet": {}, "inclearn.convnet.tools": {},
                                        "inclearn.convnet.tools.conv_mtl": {"Conv2dMtl": conv_mtl.Conv2dMtl}})
    factory_source = open(os.path.join(lib, "factory.py")).read()
    for name in ("get_optimizer", "get_convnet", "get_lr_scheduler"):
        start = factory_source.index(f"def {name}(")
        end = factory_source.find("\ndef ", start + 1)
        exec(compile(factory_source[start:end if end >= 0 else None], os.path.join(lib, "factory.py"), "exec"), k.factory.__dict__)
    k.network_modules = dict(package, **{"inclearn.lib": {"factory": k.factory},
                                         "inclearn.lib.network.classifiers": dict(vars(classifiers)),
                                         "inclearn.lib.network.word": {"Word2vec": None}})
    k.basenet = real("inclearn/lib/network/basenet.py", "inclearn.lib.network.basenet", k.network_modules)
    base = real("inclearn/lib/losses/base.py", "podnet_losses_base", {})
    distillation = real("inclearn/lib/losses/distillation.py", "podnet_losses_distillation",
                        {"inclearn": {}, "inclearn.lib": {"vizualization": None}})
    if not hasattr(torch, "frobenius_norm"):
        torch.frobenius_norm = lambda x, dim: torch.linalg.vector_norm(x, ord=2, dim=dim)
    k.losses = types.SimpleNamespace(nca=base.nca, embeddings_similarity=base.embeddings_similarity, pod=distillation.pod,
                                     ucir_ranking=base.ucir_ranking)
    return k


def formula_podnet(k, torch, classes_blocks, scale, proxies=10):
    """The CIFAR config's `BasicNet` (`rebuffi`, LSC of `proxies` per class,
    `neg_stable_cosine_distance`, learned scaling) with the formula backbone, one formula
    proxy block `podnet.proxies<b>` (±1/8) per entry of `classes_blocks`, and η = `scale`."""
    net = k.basenet.BasicNet("rebuffi", convnet_kwargs={},
                             classifier_kwargs={"type": "cosine", "proxy_per_class": proxies, "distance": "neg_stable_cosine_distance"},
                             postprocessor_kwargs={"type": "learned_scaling", "initial_value": 1.0}, device=torch.device("cpu"),
                             return_features=True, extract_no_act=True, classifier_no_act=True, attention_hook=True, gradcam_hook=False)
    with torch.no_grad():
        for name, t in net.convnet.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            lo, hi = value_range(name.replace("bn_b.", "bn2."), tuple(t.shape))
            t.copy_(torch.from_numpy(formula_values(name, t.numel(), lo, hi)).view(t.shape))
        net.post_processor.factor.fill_(scale)
    for b, classes in enumerate(classes_blocks):
        block = torch.from_numpy(formula_values(f"podnet.proxies{b}", classes * proxies * 64, -0.125, 0.125)).view(classes * proxies, 64)
        net.add_custom_weights(block.clone())
        net.classifier.n_classes += classes
    return net


def podnet_learner_defaults(s, torch):
    """The PODNet settings of `podnet_cnn_cifar100.yaml` a learner's step reads."""
    s._device, s._multiple_devices, s._debug = torch.device("cpu"), [torch.device("cpu")], False
    s._meta_transfer, s._finetuning_config, s._eval_every_x_epochs, s._post_processing_type = {}, None, None, None
    s._disable_progressbar = True
    s._weight_decay, s._opt_name = 5e-4, "sgd"
    s._nca_config = {"margin": 0.6, "scale": 1.0, "exclude_pos_denominator": True}
    s._softmax_ce, s._class_weights = False, None
    s._pod_flat_config = {"scheduled_factor": 1.0}
    s._pod_spatial_config = {"scheduled_factor": 3.0, "collapse_channels": "spatial"}
    s._perceptual_features = s._perceptual_style = None
    s._gradcam_distil = {}


def record_compute_loss(learner_class, compute_loss, recorded):
    """Wraps `_compute_loss` to record each step's terms (its `_metrics` deltas), total and rate."""
    def recording(self, *a, **kw):
        before = dict(self._metrics)
        loss = compute_loss(self, *a, **kw)
        recorded.append({k: f64(v - before.get(k, 0.0)) for k, v in self._metrics.items()}
                        | {"total": f64(loss.detach()), "lr": self._optimizer.param_groups[0]["lr"]})
        return loss
    learner_class._compute_loss = recording


def dict_loader(torch, images, labels, memory, dtype=None):
    """A one-batch loader yielding the dicts PODNet's `_training_step` reads."""
    ds = TensorSet(torch)
    ds.data, ds.targets = images, np.asarray(labels)

    class DictLoader:
        dataset = ds

        def __iter__(self):
            x = normalise(images, torch).to(dtype or torch.float32)
            yield {"inputs": x, "targets": torch.tensor(labels), "memory_flags": torch.tensor(memory)}

        def __len__(self):
            return 1
    return DictLoader()


def podnet_parameter_stats(net, optimizer, torch, trainable=False):
    """Every parameter's value and momentum buffer, and every BN buffer, under `net`'s names;
    with `trainable`, whether the step trained it (asks for a gradient and sits in an
    optimiser group: the old proxies ask for one, but `old_weights: 0` leaves them out)."""
    stepped = {id(p) for g in optimizer.param_groups for p in g["params"] if p.requires_grad}
    out = {}
    for name, p in net.named_parameters():
        entry = {"value": tensor_stats(p, torch)}
        if trainable:
            entry["trainable"] = id(p) in stepped
        if p in optimizer.state and optimizer.state[p].get("momentum_buffer") is not None:
            entry["momentum"] = tensor_stats(optimizer.state[p]["momentum_buffer"], torch)
        out[name] = entry
    for name, b in net.named_buffers():
        if not name.endswith("num_batches_tracked"):
            out[name] = {"value": tensor_stats(b, torch)}
    return out


def podnet_training_step(repo, torch, phase, steps, dtype=None, finetune=False):
    """PODNet's training step, by its own code: `inclearn/models/podnet.py`
    `PODNet._train_task` (the gradient clamp hooks, then) → `icarl.py` `ICarl._training_step`
    → `ICarl._forward_loss` → `PODNet._compute_loss`, on its own `BasicNet` (`basenet.py`)
    with the CIFAR config's network (`options/podnet/podnet_cnn_cifar100.yaml`: `rebuffi`
    backbone, `CosineClassifier` with 10 proxies per class, `neg_stable_cosine_distance`,
    softmax merging, `learned_scaling` post-processor) and optimiser (PODNet's
    `_before_task` groups with `groupwise_factors: {old_weights: 0}`, `factory.get_optimizer`
    "sgd": lr 0.1, momentum 0.9, weight decay 5e-4, and the cosine schedule over 160 epochs
    stepped after each epoch), for k epochs over a one-batch loader.
    Phase 0: 4 classes, the 8 phase-0 images, NCA only. Phase 1: the phase-0 network as the
    frozen teacher (`_after_task`: `copy().freeze()`, evaluation mode), 2 new classes with
    formula proxies, scale η = 1.7, the 8 new-class images and the 4 exemplars
    (`memory_flags` 1), NCA + POD-flat + POD-spatial with their scheduled factors.
    Stand-ins: `podnet_stack`'s, `tqdm` (`Progress`), `scipy`, and the modules these files
    import but the step does not use (data, herding, the model base class).
    `finetune`: instead of the phase's training, its classifier finetuning (phase 1 only):
    `_train_task` with no training epochs and the CIFAR `finetuning_config` (undersampling,
    tuning the classifier, lr 0.05, k epochs), whose memory loader (a stand-in
    `inc_dataset.get_memory_loader`) serves one batch: exemplars [0, 1, 2, 3] and new-class
    images [0, 1, 4, 5], every memory flag 1."""
    classes_old, classes_new = 4, 2
    torch.manual_seed(0)
    k = podnet_stack(repo, torch)
    lib_ns = {"factory": k.factory, "herding": None, "losses": k.losses, "network": None, "schedulers": None, "utils": k.utils}
    icarl = k.real("inclearn/models/icarl.py", "podnet_icarl",
                   {"scipy": {}, "scipy.spatial": {}, "scipy.spatial.distance": {"cdist": None}, "tqdm": {"tqdm": Progress},
                    "inclearn": {}, "inclearn.lib": lib_ns, "inclearn.lib.network": {"hook": None},
                    "inclearn.models": {}, "inclearn.models.base": {"IncrementalLearner": object}})
    podnet = k.real("inclearn/models/podnet.py", "podnet_model",
                    {"inclearn": {}, "inclearn.lib": dict(lib_ns, data=None), "inclearn.lib.data": {"samplers": None},
                     "inclearn.models": {}, "inclearn.models.icarl": {"ICarl": icarl.ICarl}})

    old = None
    if finetune:
        assert phase == 1
    if phase == 0:
        net = formula_podnet(k, torch, [classes_old], 1.0)
        images, labels, memory = formula_images("batch.phase0", 8), [0, 1, 2, 3, 0, 1, 2, 3], [0] * 8
        n_classes, task_size = classes_old, classes_old
    else:
        old = formula_podnet(k, torch, [classes_old], 1.0).copy().freeze()
        net = formula_podnet(k, torch, [classes_old, classes_new], 1.7)
        images = np.concatenate([formula_images("batch.phase1.new", 8), formula_images("batch.phase1.exemplars", 4)])
        labels, memory = [4, 4, 4, 4, 5, 5, 5, 5, 0, 1, 2, 3], [0] * 8 + [1] * 4
        n_classes, task_size = classes_old + classes_new, classes_new
    if dtype is not None:  # the conditioning measurement in float64 (README), not a fixture
        net.to(dtype)
        old = old.to(dtype) if old is not None else None
    net.train()

    class Learner:
        _train_task = podnet.PODNet._train_task
        _training_step = icarl.ICarl._training_step
        _forward_loss = icarl.ICarl._forward_loss
        _print_metrics = icarl.ICarl._print_metrics
        weight_decay = podnet.PODNet.weight_decay
    s = Learner()
    podnet_learner_defaults(s, torch)
    s._network, s._old_model = net, old
    s._n_classes, s._task_size, s._task, s._n_tasks, s._n_epochs = n_classes, task_size, phase, 2, steps
    # `_before_task`'s optimiser: every `get_group_parameters` group but `last_block`, at lr
    # times its groupwise factor, a 0 factor leaving the group out.
    params = []
    for group_name, group_params in net.get_group_parameters().items():
        if group_params is None or group_name == "last_block":
            continue
        factor = {"old_weights": 0.0}.get(group_name, 1.0)
        if factor == 0.0:
            continue
        params.append({"params": group_params, "lr": 0.1 * factor})
    s._optimizer = k.factory.get_optimizer(params, "sgd", 0.1, 5e-4)
    s._scheduler = k.factory.get_lr_scheduler({"type": "cosine"}, s._optimizer, nb_epochs=160, lr_decay=0.1, task=phase)
    recorded = []
    record_compute_loss(Learner, podnet.PODNet._compute_loss, recorded)
    if finetune:
        new_picks = formula_images("batch.phase1.new", 8)[[0, 1, 4, 5]]
        images = np.concatenate([formula_images("batch.phase1.exemplars", 4), new_picks])
        labels, memory = [0, 1, 2, 3, 4, 4, 5, 5], [1] * 8
        memory_loader = dict_loader(torch, images, labels, memory, dtype)
        s._finetuning_config = {"sampling": "undersampling", "tuning": "classifier", "lr": 0.05, "epochs": steps, "scaling": None}
        s._n_epochs = 0
        s._herding_indexes = []
        s.build_examplars = lambda *a: (images, np.asarray(labels), None, None)
        s.get_memory = lambda: (images, np.asarray(labels))
        s.inc_dataset = types.SimpleNamespace(get_memory_loader=lambda *a: memory_loader)
    s._train_task(dict_loader(torch, images, labels, memory, dtype), None)
    return {"phase": phase, "steps": steps, "finetune": finetune, "proxies_per_class": 10, "labels": labels, "memory_flags": memory,
            "n_classes": n_classes, "task_size": task_size, "scale": 1.0 if phase == 0 else 1.7,
            "losses": recorded, "rates": [g["lr"] for g in s._optimizer.param_groups],
            "parameters": podnet_parameter_stats(net, s._optimizer, torch)}


def pod_aanets_training_step(repo, torch, steps):
    """PODNet + AANets' phase-1 training step by the authors' preliminary code
    (`yaoyao-liu/POD-AANets`): `inclearn/models/rmm.py` `RMMLearner._before_task` (task 1:
    the stable branch is a `rebuffi_mtl` copy of the phase-0 network, frozen kernels times
    `mtl_weight` scales, the plastic branch a plain copy, both in `network.AANets`, whose
    levels are mixed 0.5/0.5; new proxies through `_gen_weights`; the optimiser groups
    `convnet_1`, `convnet_2`, `postprocessing`, `new_weights`), then `RMMLearner._train_task`
    → `new_base.py` `_training_step` → `_forward_loss` → `RMMLearner._compute_loss` with
    the parser's defaults (`weight_pod_loss` 1, `weight_icarl_loss` and `weight_lucir_loss`
    0, `--disable_rmm`) and `options/config_cifar100_5phase.yaml`'s network and losses.
    Teacher: the phase-0 network, `copy().freeze()` (`new_base.py` `_after_task`). Data as
    in `podnet-phase1-*`: the 8 new-class images and the 4 exemplars, k epochs of one batch.
    Stand-ins as for PODNet's step; `utils.add_new_weights` (the imprinting `_gen_weights`
    calls) appends the formula block `podnet.proxies1` instead of k-means centres."""
    proxies, classes_old, classes_new = 10, 4, 2
    torch.manual_seed(0)
    k = podnet_stack(repo, torch, mtl=True)
    aanets = k.real("inclearn/lib/network/aanets.py", "inclearn.lib.network.aanets", k.network_modules)

    def add_new_weights(network, weight_generation, n_classes, task_size, inc_dataset):
        block = torch.from_numpy(formula_values("podnet.proxies1", task_size * proxies * 64, -0.125, 0.125)).view(task_size * proxies, 64)
        network.add_custom_weights(block.clone())
        network.classifier.n_classes += task_size
    lib_ns = {"factory": k.factory, "herding": None, "losses": k.losses, "schedulers": None,
              "network": types.SimpleNamespace(AANets=aanets.AANets, BasicNet=k.basenet.BasicNet),
              "utils": types.SimpleNamespace(to_onehot=k.utils.to_onehot, check_loss=k.utils.check_loss, add_new_weights=add_new_weights)}
    new_base = k.real("inclearn/models/new_base.py", "pod_aanets_new_base",
                      {"scipy": {}, "scipy.spatial": {}, "scipy.spatial.distance": {"cdist": None}, "scipy.stats": {"entropy": None},
                       "scipy.special": {"softmax": None}, "tqdm": {"tqdm": Progress},
                       "inclearn": {}, "inclearn.lib": lib_ns, "inclearn.lib.network": {"hook": None},
                       "inclearn.models": {}, "inclearn.models.base": {"IncrementalLearner": object}})
    rmm = k.real("inclearn/models/rmm.py", "pod_aanets_rmm",
                 {"inclearn": {}, "inclearn.lib": dict(lib_ns, data=None), "inclearn.lib.data": {"samplers": None},
                  "inclearn.models": {}, "inclearn.models.new_base": {"NewIncrementalLearner": new_base.NewIncrementalLearner}})

    class Learner:
        _before_task = rmm.RMMLearner._before_task
        _gen_weights = rmm.RMMLearner._gen_weights
        _memory_per_class = rmm.RMMLearner._memory_per_class
        weight_decay = rmm.RMMLearner.weight_decay
        _train_task = rmm.RMMLearner._train_task
        _training_step = new_base.NewIncrementalLearner._training_step
        _forward_loss = new_base.NewIncrementalLearner._forward_loss
        _print_metrics = new_base.NewIncrementalLearner._print_metrics
    s = Learner()
    podnet_learner_defaults(s, torch)
    s._network = formula_podnet(k, torch, [classes_old], 1.7)
    s._old_model = formula_podnet(k, torch, [classes_old], 1.0).copy().freeze()
    s._args = {"convnet": "rebuffi", "convnet_config": {}, "postprocessor_config": {"type": "learned_scaling", "initial_value": 1.0},
               "classifier_no_act": True, "dataset": "cifar100", "memory_size": 2000, "increment": 2}
    s.classifier_kwargs = {"type": "cosine", "proxy_per_class": proxies, "distance": "neg_stable_cosine_distance"}
    s._task, s._n_tasks, s._n_classes, s._task_size, s._total_n_classes = 1, 2, classes_old, classes_new, classes_old + classes_new
    s._fixed_memory, s._disable_rmm, s._current_mem_rate = True, True, 0.0
    s._weight_generation, s.inc_dataset = {"type": "imprinted", "multi_class_diff": "kmeans"}, None
    s._groupwise_factors, s._groupwise_factors_bis = {"old_weights": 0.0}, {}
    s._lr, s._n_epochs, s._scheduling, s._lr_decay = 0.1, 160, {"type": "cosine"}, 0.1
    s._class_weights_config = {}
    s._weight_pod_loss, s._weight_icarl_loss, s._weight_lucir_loss = 1.0, 0.0, 0.0
    s._before_task(None, None)   # the optimiser and a 160-epoch cosine schedule, as for CIFAR
    s._n_epochs = steps
    # `_before_task` replaced the network; its new stable branch starts from the phase-0
    # kernels with every scale 1, the plastic branch is the phase-0 network's own, and its
    # post-processor is a new `FactorScalar` at the config's initial value: η restarts at 1.
    net = s._network
    net.train()
    images = np.concatenate([formula_images("batch.phase1.new", 8), formula_images("batch.phase1.exemplars", 4)])
    labels, memory = [4, 4, 4, 4, 5, 5, 5, 5, 0, 1, 2, 3], [0] * 8 + [1] * 4
    recorded = []
    record_compute_loss(Learner, rmm.RMMLearner._compute_loss, recorded)
    s._train_task(dict_loader(torch, images, labels, memory), None)
    return {"phase": 1, "steps": steps, "proxies_per_class": proxies, "labels": labels, "memory_flags": memory, "scale": 1.7,
            "losses": recorded, "groups": [len(g["params"]) for g in s._optimizer.param_groups],
            "parameters": podnet_parameter_stats(net, s._optimizer, torch, trainable=True)}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aanets-repo", required=True, help="checkout of yaoyao-liu/class-incremental-learning")
    ap.add_argument("--lucir-repo", help="checkout of hshustc/CVPR19_Incremental_Learning (class-balanced finetuning)")
    ap.add_argument("--pycil-repo", help="checkout of G-U-N/PyCIL (LwF, KD form)")
    ap.add_argument("--podnet-repo", help="checkout of arthurdouillard/incremental_learning.pytorch (POD, NCA)")
    ap.add_argument("--mammoth-repo", help="checkout of aimagelab/mammoth (LwF.MC, sigmoid BCE)")
    ap.add_argument("--pod-aanets-repo", help="checkout of yaoyao-liu/POD-AANets (PODNet + AANets' step)")
    ap.add_argument("--mnemonics-repo", help="checkout of yaoyao-liu/mnemonics-training (Mnemonics' exemplar step)")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()

    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)  # only the reference's own throw-away inits draw from it
    repo = os.path.abspath(args.aanets_repo)
    commit = subprocess.check_output(["git", "-C", repo, "rev-parse", "HEAD"], text=True).strip()
    sys.path.insert(0, os.path.join(repo, "adaptive-aggregation-networks"))
    import torch._dynamo  # noqa: F401  (resolves its import table before the stubs exist)
    install_stubs()
    shim_margin_ranking_loss(torch)
    import models.modified_resnet_cifar as modified_resnet_cifar
    import models.modified_resnetmtl_cifar as modified_resnetmtl_cifar
    from trainer.base_trainer import BaseTrainer
    from trainer.zeroth_phase import incremental_train_and_eval_zeroth_phase
    from trainer.incremental_lucir import incremental_train_and_eval as lucir_train
    from trainer.incremental_icarl import incremental_train_and_eval as icarl_train

    stamp = {"repository": "yaoyao-liu/class-incremental-learning", "folder": "adaptive-aggregation-networks",
             "commit": commit, "torch": torch.__version__, "numpy": np.__version__, "threads": 1,
             "command": "python3 Tests/Fixtures/reference/generate.py --aanets-repo <checkout> --lucir-repo <checkout> --pycil-repo <checkout> --podnet-repo <checkout> --mammoth-repo <checkout> --mnemonics-repo <checkout> --pod-aanets-repo <checkout>"}
    device = torch.device("cpu")

    def reference_args(**kw):
        a = dict(dataset="cifar100", nb_cl_fg=4, nb_cl=2, nb_protos=20, epochs=160, branch_mode="dual",
                 branch_1="ss", branch_2="free", fusion_lr=1e-8, lr_factor=0.1, custom_weight_decay=5e-4,
                 custom_momentum=0.9, base_lr1=0.1, base_lr2=0.1, the_lambda=5.0, dist=0.5, K=2, lw_mr=1.0,
                 eval_batch_size=128, test_batch_size=100, num_workers=0, icarl_T=2, icarl_beta=0.25)
        a.update(kw)
        return types.SimpleNamespace(**a)

    def trainer_stand_in(a):
        """The BaseTrainer attributes the called methods read (CIFAR settings, l.97-116)."""
        s = types.SimpleNamespace(args=a, device=device, network=modified_resnet_cifar.resnet32,
                                  network_mtl=modified_resnetmtl_cifar.resnetmtl32, lr_strat=[80, 120],
                                  evalset=TensorSet(torch))
        fusion = torch.nn.ParameterList()
        for _ in range(3):
            fusion.append(torch.nn.Parameter(torch.FloatTensor([0.5 if a.branch_mode == "dual" else 1.0])))
        s.fusion_vars = fusion
        return s

    def phase0_model():
        m = modified_resnet_cifar.resnet32(num_classes=4)
        set_formula_weights(m, torch)
        return m

    # ---- batches (learning positions: 0..3 old, 4..5 new) ----
    p0_images = formula_images("batch.phase0", 8)
    p0_labels = [0, 1, 2, 3, 0, 1, 2, 3]
    new_images = formula_images("batch.phase1.new", 8)       # 4 per new class
    new_labels = [4, 4, 4, 4, 5, 5, 5, 5]
    ex_images = formula_images("batch.phase1.exemplars", 4)  # 1 per old class
    ex_labels = [0, 1, 2, 3]
    p1_images = np.concatenate([new_images, ex_images])      # new first, then the protoset (l.430-436)
    p1_labels = new_labels + ex_labels
    balanced_pick = [0, 5, 5, 2]                             # new-class picks, with a repeat (l.703)
    bal_images = np.concatenate([new_images[balanced_pick], ex_images])
    bal_labels = [new_labels[i] for i in balanced_pick] + ex_labels

    fixtures = {}
    t_start = time.time()

    # ---- phase 0: plain ResNet-32, cosine head, CE (zeroth_phase.py) ----
    for k in (1, 3):
        a = reference_args(branch_mode="single", branch_1="free")
        s = trainer_stand_in(a)
        model = phase0_model()
        with torch.no_grad():
            model.fc.sigma.fill_(1.0)
        opt, sched, _, _ = BaseTrainer.set_optimizer(s, 1, 1, model, None, None, None)
        rec = Recorder(torch)
        loader = one_batch_loader(torch, p0_images, p0_labels)
        incremental_train_and_eval_zeroth_phase(a, k, model, None, opt, sched, loader, loader, 1, 1, 5.0, 0.5, 2, 1.0, device=device)
        rec.close()
        # per epoch: [train CE, test CE]
        steps = [{"ce": rec.events[2 * e][1]} for e in range(k)]
        for e in range(k):
            assert rec.events[2 * e][0] == "CrossEntropyLoss"
        fixtures[f"lucir-phase0-k{k}"] = {
            "method": "lucir", "phase": 0, "aanets": False, "steps": k, "sigma_init": 1.0,
            "learning_rate": opt.param_groups[0]["lr"], "losses": steps,
            "parameters": model_stats("", model, opt, torch)}

    # ---- phase 1: LUCIR (single branch) and LUCIR+AANets (dual: ss + free) ----
    variants = [("lucir-phase1", dict(branch_mode="single", branch_1="free", branch_2="free")),
                ("lucir-aanets-phase1", dict(branch_mode="dual", branch_1="ss", branch_2="free")),
                ("lucir-aanets-fastalpha-phase1", dict(branch_mode="dual", branch_1="ss", branch_2="free", fusion_lr=0.01)),
                ("icarl-phase1", dict(baseline="icarl", branch_mode="single", branch_1="free", branch_2="free")),
                ("icarl-aanets-phase1", dict(baseline="icarl", branch_mode="dual", branch_1="ss", branch_2="free")),
                ("icarl-aanets-fastalpha-phase1", dict(baseline="icarl", branch_mode="dual", branch_1="ss", branch_2="free", fusion_lr=0.01))]
    for label, kw in variants:
        icarl = kw.pop("baseline", "lucir") == "icarl"
        for k in ((1, 3) if "fastalpha" not in label else (3,)):
            a = reference_args(**kw)
            s = trainer_stand_in(a)
            prev = phase0_model()
            b1, b2, ref, ref_b2, lambda_mult, cur_lambda, _ = BaseTrainer.init_current_phase_model(s, 2, 1, prev, None)
            b1 = BaseTrainer.imprint_weights(s, b1, b2, 2, False, p1_images, np.asarray(p1_labels), 4)
            imprinted = b1.fc.fc2.weight.detach().clone()
            opt, sched, fopt, fsched = BaseTrainer.set_optimizer(s, 2, 1, b1, ref, b2, ref_b2)
            rec = Recorder(torch)
            loader = one_batch_loader(torch, p1_images, p1_labels)
            balanced = one_batch_loader(torch, bal_images, bal_labels)
            steps = []
            if icarl:
                icarl_train(a, k, s.fusion_vars, s.ref_fusion_vars, b1, ref, b2, ref_b2, opt, sched, fopt, fsched,
                            loader, loader, 2, 1, None, None, list(range(6)), cur_lambda, a.dist, a.K, a.lw_mr, balanced,
                            a.icarl_T, a.icarl_beta, device=device)
                rec.close()
                # per epoch: KLDiv (before x T^2 beta |C_o|), CE, alpha CE, test CE
                for e in range(k):
                    ev = rec.events[4 * e:4 * e + 4]
                    assert [x[0] for x in ev] == ["KLDivLoss", "CrossEntropyLoss", "CrossEntropyLoss", "CrossEntropyLoss"], ev
                    steps.append({"kl_raw": ev[0][1], "ce": ev[1][1], "alpha_ce": ev[2][1]})
            else:
                lucir_train(a, k, s.fusion_vars, s.ref_fusion_vars, b1, ref, b2, ref_b2, opt, sched, fopt, fsched,
                            loader, loader, 2, 1, None, None, list(range(6)), cur_lambda, a.dist, a.K, a.lw_mr, balanced, device=device)
                rec.close()
                # per epoch: CosEmb, CE, MR (old-class samples present), alpha CE, test CE
                for e in range(k):
                    ev = rec.events[5 * e:5 * e + 5]
                    assert [x[0] for x in ev] == ["CosineEmbeddingLoss", "CrossEntropyLoss", "MarginRankingLoss",
                                                  "CrossEntropyLoss", "CrossEntropyLoss"], ev
                    steps.append({"lf_raw": ev[0][1], "ce": ev[1][1], "mr_raw": ev[2][1], "alpha_ce": ev[3][1]})
            params = model_stats("b1.", b1, opt, torch)
            if kw["branch_mode"] == "dual":
                params.update(model_stats("b2.", b2, opt, torch))
            alphas = [float(v.detach()[0]) for v in s.fusion_vars]
            alpha_state = [fopt.state.get(v, {}).get("momentum_buffer") for v in s.fusion_vars]
            fixtures[f"{label}-k{k}"] = {
                "method": "icarl" if icarl else "lucir", "phase": 1, "aanets": kw["branch_mode"] == "dual", "steps": k,
                "icarl_T": a.icarl_T, "icarl_beta": a.icarl_beta,
                "old_classes": 4, "new_classes": 2, "lambda": cur_lambda, "mr_weight": a.lw_mr,
                "learning_rate": opt.param_groups[0]["lr"], "fusion_lr": a.fusion_lr,
                "imprinted": tensor_stats(imprinted, torch), "losses": steps, "alphas": alphas,
                "alpha_grads": [float(v.grad[0]) if v.grad is not None else None for v in s.fusion_vars],
                "alpha_momentum": [float(b[0]) if b is not None else None for b in alpha_state],
                "parameters": params}

    # ---- herding and NME class means: BaseTrainer.set_exemplar_set (l.816-981) at the end of
    # phase 0 (4 classes of 30 formula images, 5 exemplars each, --dynamic_budget), with the
    # formula model; compute_features is wrapped only to record the feature matrices ----
    import trainer.base_trainer as base_trainer_module
    recorded_features = []
    original_compute_features = base_trainer_module.compute_features

    def recording_compute_features(*a, **kw):
        out = original_compute_features(*a, **kw)
        recorded_features.append(np.array(out))
        return out
    base_trainer_module.compute_features = recording_compute_features
    import tempfile
    a = reference_args(branch_mode="single", branch_1="free", nb_protos=5, dynamic_budget=True)
    s = trainer_stand_in(a)
    s.dictionary_size = 30
    s.save_path = tempfile.mkdtemp()
    model = phase0_model()
    prototypes = np.stack([formula_images(f"herding.class{c}", 30) for c in range(6)])
    alpha_dr_herding = np.zeros((3, 30, 2), np.float32)
    _, _, class_means, alpha_dr_herding = BaseTrainer.set_exemplar_set(s, model, None, True, 1, 0, np.arange(6), alpha_dr_herding, prototypes)
    base_trainer_module.compute_features = original_compute_features
    herding = {"exemplars_per_class": 5, "images_per_class": 30, "classes": 4, "images": "herding.class<c>",
               "ranks": [], "class_means_exemplars": [], "class_means_all": [],
               "class0_features": [[f32(x) for x in row] for row in recorded_features[0]]}
    for c in range(4):
        ranks = alpha_dr_herding[c // 2, :, c % 2]
        herding["ranks"].append([int(i) for i in sorted(np.nonzero(ranks)[0], key=lambda i: ranks[i])])
        herding["class_means_exemplars"].append(class_means[:, c, 0].tolist())
        herding["class_means_all"].append(class_means[:, c, 1].tolist())
    fixtures["herding"] = herding

    # ---- LUCIR's class-balanced finetuning (hshustc/CVPR19_Incremental_Learning,
    # imagenet-class-incremental/cbf_class_incremental_cosine_imagenet.py l.565-660, ft_flag 2):
    # its incremental_train_and_eval_MR_LF with fix_bn=True on the exemplar set, for k = 3
    # epochs over a one-batch loader, on the phase-1 LUCIR model right after imprinting ----
    if args.lucir_repo:
        lucir_repo = os.path.abspath(args.lucir_repo)
        stamp["lucir_repository"] = "hshustc/CVPR19_Incremental_Learning"
        stamp["lucir_commit"] = subprocess.check_output(["git", "-C", lucir_repo, "rev-parse", "HEAD"], text=True).strip()
        sys.path.insert(0, os.path.join(lucir_repo, "imagenet-class-incremental"))
        # utils_pytorch (star-imported, unused by the function) asks `stty size` at import,
        # which fails without a terminal: an empty stand-in replaces it.
        helper = types.ModuleType("utils_pytorch")
        helper.__spec__ = importlib.machinery.ModuleSpec("utils_pytorch", None)
        sys.modules["utils_pytorch"] = helper
        from utils_incremental.incremental_train_and_eval_MR_LF import incremental_train_and_eval_MR_LF as lucir_mr_lf
        a = reference_args(branch_mode="single", branch_1="free", branch_2="free")
        s = trainer_stand_in(a)
        prev = phase0_model()
        b1, b2, ref, ref_b2, _, cur_lambda, _ = BaseTrainer.init_current_phase_model(s, 2, 1, prev, None)
        b1 = BaseTrainer.imprint_weights(s, b1, b2, 2, False, p1_images, np.asarray(p1_labels), 4)
        # The optimiser the script builds for ft_flag 2 (l.642-652): backbone lr 0 wd 0, both
        # head blocks at ft_base_lr 0.01 with custom_weight_decay 1e-4 (l.117); sigma in no group.
        ignored = list(map(id, b1.fc.parameters()))
        base = filter(lambda p: id(p) not in ignored, b1.parameters())
        groups = [{"params": base, "lr": 0, "weight_decay": 0},
                  {"params": b1.fc.fc1.parameters(), "lr": 0.01, "weight_decay": 1e-4},
                  {"params": b1.fc.fc2.parameters(), "lr": 0.01, "weight_decay": 1e-4}]
        ft_opt = torch.optim.SGD(groups, lr=0.01, momentum=0.9, weight_decay=1e-4)
        ft_sched = torch.optim.lr_scheduler.MultiStepLR(ft_opt, milestones=[10], gamma=0.1)
        cbf_pick = [0, 1, 4, 5]  # two exemplars of each new class, then the old exemplars
        cbf_images = np.concatenate([new_images[cbf_pick], ex_images])
        cbf_labels = [new_labels[i] for i in cbf_pick] + ex_labels
        rec = Recorder(torch)
        loader = one_batch_loader(torch, cbf_images, cbf_labels)
        k = 3
        lucir_mr_lf(k, b1, ref, ft_opt, ft_sched, loader, loader, 2, 1, cur_lambda, a.dist, a.K, a.lw_mr, fix_bn=True, device=device)
        rec.close()
        steps = []
        for e in range(k):
            ev = rec.events[4 * e:4 * e + 4]
            assert [x[0] for x in ev] == ["CosineEmbeddingLoss", "CrossEntropyLoss", "MarginRankingLoss", "CrossEntropyLoss"], ev
            steps.append({"lf_raw": ev[0][1], "ce": ev[1][1], "mr_raw": ev[2][1]})
        fixtures["lucir-cbf-phase1-k3"] = {
            "method": "lucir", "phase": 1, "aanets": False, "steps": k, "lambda": cur_lambda, "picks": cbf_pick,
            "labels": cbf_labels, "learning_rate": 0.01, "weight_decay": 1e-4, "milestones": [10],
            "losses": steps, "parameters": model_stats("b1.", b1, ft_opt, torch)}

        # The original LUCIR's phase-1 training (class_incremental_cosine_cifar100.py l.325-339:
        # old vectors lr 0 wd 0, the rest lr 0.1 wd 5e-4, MultiStepLR [80, 120]) through the same
        # incremental_train_and_eval_MR_LF (the CIFAR and ImageNet copies are identical).
        for k in (1, 3):
            a = reference_args(branch_mode="single", branch_1="free", branch_2="free")
            s = trainer_stand_in(a)
            prev = phase0_model()
            b1, b2, ref, ref_b2, _, cur_lambda, _ = BaseTrainer.init_current_phase_model(s, 2, 1, prev, None)
            b1 = BaseTrainer.imprint_weights(s, b1, b2, 2, False, p1_images, np.asarray(p1_labels), 4)
            imprinted = b1.fc.fc2.weight.detach().clone()
            ignored = list(map(id, b1.fc.fc1.parameters()))
            base = filter(lambda p: id(p) not in ignored, b1.parameters())
            groups = [{"params": base, "lr": 0.1, "weight_decay": 5e-4}, {"params": b1.fc.fc1.parameters(), "lr": 0, "weight_decay": 0}]
            opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9, weight_decay=5e-4)
            sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[80, 120], gamma=0.1)
            rec = Recorder(torch)
            loader = one_batch_loader(torch, p1_images, p1_labels)
            lucir_mr_lf(k, b1, ref, opt, sched, loader, loader, 2, 1, cur_lambda, a.dist, a.K, a.lw_mr, device=device)
            rec.close()
            steps = []
            for e in range(k):
                ev = rec.events[4 * e:4 * e + 4]
                assert [x[0] for x in ev] == ["CosineEmbeddingLoss", "CrossEntropyLoss", "MarginRankingLoss", "CrossEntropyLoss"], ev
                steps.append({"lf_raw": ev[0][1], "ce": ev[1][1], "mr_raw": ev[2][1]})
            fixtures[f"lucir-original-phase1-k{k}"] = {
                "method": "lucir", "phase": 1, "aanets": False, "steps": k, "old_classes": 4, "new_classes": 2,
                "lambda": cur_lambda, "mr_weight": a.lw_mr, "learning_rate": 0.1, "fusion_lr": 0.0,
                "imprinted": tensor_stats(imprinted, torch), "losses": steps, "parameters": model_stats("b1.", b1, opt, torch)}


    # ---- LwF, PyCIL's KD form: models/lwf.py LwF._update_representation (l.145-200) run on a
    # stand-in learner for k epochs over a one-batch loader of new-class images (no
    # exemplars); the network is the formula ResNet-32 above with a linear head (PyCIL's own
    # CIFAR ResNet-32 uses option-A shortcuts, not what cilbench's LwF runs on) ----
    if args.pycil_repo:
        fixtures.update(pycil_lwf(args.pycil_repo, torch, stamp, phase0_model, new_images, new_labels))

    # ---- the ImageNet ResNet-18 of LUCIR and AANets (models/modified_resnet.py resnet18: 7x7/2
    # stem and max-pool, no ReLU after the last block, AvgPool2d(7) so the input is 224x224):
    # formula weights, one training-mode forward of 2 images, backward of the probe
    # Σ pooled ⊙ v (the pooled feature read by a forward hook on `avgpool`) ----
    import models.modified_resnet as modified_resnet
    r18 = modified_resnet.resnet18(num_classes=4)
    set_formula_weights(r18, torch)
    r18.train()
    pooled = []
    hook = r18.avgpool.register_forward_hook(lambda module, inputs, output: pooled.append(output))
    r18(normalise(formula_images("batch.imagenet", 2, size=224), torch))
    hook.remove()
    feature = pooled[0].flatten(1)
    probe = torch.from_numpy(formula_values("resnet18.probe", 2 * 512, -1.0, 1.0)).view(2, 512)
    (feature * probe).sum().backward()
    fixtures["resnet18-imagenet-backbone"] = {
        "network": "models/modified_resnet.py resnet18(num_classes=4)", "images": "batch.imagenet (2, 224x224)",
        "probe": "resnet18.probe", "mode": "training", "pooled": tensor_stats(feature, torch),
        "gradients": {n: tensor_stats(p.grad, torch) for n, p in r18.named_parameters() if not n.startswith("fc.")},
        "buffers": {n: tensor_stats(b, torch) for n, b in r18.named_buffers() if not n.endswith("num_batches_tracked")}}

    # ---- LwF.MC (the iCaRL paper's LwF, the default `loss: bce`): Mammoth's LwFMC.observe,
    # k optimiser steps on one batch in phase 0 (4 classes) and phase 1 (4 old, 2 new) ----
    if args.mammoth_repo:
        fixtures.update(mammoth_lwf_mc(args.mammoth_repo, torch, stamp, phase0_model, p0_images, p0_labels, new_images, new_labels))

    # ---- PODNet's losses (the closest runnable functions; the training loop needs the
    # repository's whole network/factory stack): inclearn/lib/losses/distillation.py `pod`
    # (POD-spatial) and inclearn/lib/losses/base.py `nca` with the CNN config's settings ----
    if args.podnet_repo:
        fixtures["podnet-losses"] = podnet_losses(args.podnet_repo, torch, stamp)
        fixtures["podnet-cifar-backbone"] = podnet_cifar_backbone(args.podnet_repo, torch)
        for phase in (0, 1):
            for steps in (1, 3):
                fixtures[f"podnet-phase{phase}-k{steps}"] = podnet_training_step(args.podnet_repo, torch, phase, steps)
        fixtures["podnet-finetune-k3"] = podnet_training_step(args.podnet_repo, torch, 1, 3, finetune=True)
        fixtures["podnet-imagenet-backbone"] = podnet_imagenet_backbone(args.podnet_repo, torch)
    if args.pod_aanets_repo:
        pod_aanets_repo = os.path.abspath(args.pod_aanets_repo)
        stamp["pod_aanets_repository"] = "yaoyao-liu/POD-AANets"
        stamp["pod_aanets_commit"] = subprocess.check_output(["git", "-C", pod_aanets_repo, "rev-parse", "HEAD"], text=True).strip()
        for steps in (1, 3):
            fixtures[f"podnet-aanets-phase1-k{steps}"] = pod_aanets_training_step(pod_aanets_repo, torch, steps)

    # ---- learning-rate schedules over a whole phase (set_optimizer's schedulers, stepped at
    # the start of each epoch as the train functions do, G4): the rate each epoch trains at ----
    schedules = {}
    for dataset, epochs in (("cifar100", 160), ("imagenet_sub", 90)):
        a = reference_args(dataset=dataset, epochs=epochs, base_lr2=0.1 if dataset == "cifar100" else 0.05)
        s = trainer_stand_in(a)
        s.lr_strat = [int(epochs * 0.5), int(epochs * 0.75)] if dataset == "cifar100" else [int(epochs * 0.333), int(epochs * 0.667)]
        prev = phase0_model()
        b1, b2, ref, ref_b2, _, _, _ = BaseTrainer.init_current_phase_model(s, 2, 1, prev, None)
        opt, sched, fopt, fsched = BaseTrainer.set_optimizer(s, 2, 1, b1, ref, b2, ref_b2)
        rates, alpha_rates = [], []
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in range(epochs):
                sched.step(); fsched.step()
                rates.append(opt.param_groups[0]["lr"]); alpha_rates.append(fopt.param_groups[0]["lr"])
        schedules[dataset] = {"epochs": epochs, "base_lr": a.base_lr2, "milestones": s.lr_strat,
                              "scheduler": type(sched).__name__, "rates": rates,
                              "alpha_base_lr": a.fusion_lr, "alpha_rates": alpha_rates}
    fixtures["schedules"] = schedules

    # ---- Mnemonics' exemplar step through the reference's own Trainer.train() (last: it
    # swaps the reference packages on sys.path for the Mnemonics repository's) ----
    if args.mnemonics_repo:
        mnemonics_repo = os.path.abspath(args.mnemonics_repo)
        stamp["mnemonics_repository"] = "yaoyao-liu/mnemonics-training"
        stamp["mnemonics_commit"] = subprocess.check_output(["git", "-C", mnemonics_repo, "rev-parse", "HEAD"], text=True).strip()
        # lr 100 (the code's default is 1e-5): large enough that the updates move the
        # stored uint8 values by a few levels, so the write-back is compared too.
        for steps in (1, 3):
            fixtures.update(mnemonics_exemplar_step(mnemonics_repo, torch, steps, 100.0))

    doc = {"stamp": stamp, "generator_seconds": round(time.time() - t_start, 1),
           "inputs": {"formula": "splitmix64(fnv1a64(name) + (i+1)*0x9E3779B97F4A7C15); u=(w>>40)/2^24; v=float32(lo+(hi-lo)*u)",
                      "images": "uint8 = w>>56, HWC 32x32x3; ToTensor+Normalize(CIFAR LUCIR mean/std) in float32",
                      "phase0": {"images": "batch.phase0", "labels": p0_labels},
                      "phase1": {"new": "batch.phase1.new", "new_labels": new_labels,
                                 "exemplars": "batch.phase1.exemplars", "exemplar_labels": ex_labels,
                                 "balanced_new_picks": balanced_pick}},
           "fixtures": fixtures}
    path = os.path.join(args.out, "lucir-aanets.json")
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, sort_keys=True, separators=(",", ":"))
    os.replace(path + ".tmp", path)
    print(f"wrote {path} in {time.time() - t_start:.1f} s")


if __name__ == "__main__":
    main()
