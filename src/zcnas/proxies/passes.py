"""Shared passes: the model copies and forward/backward passes that several proxies read.

One ``ProxyContext`` is made per call of ``compute_proxies``. It never modifies the caller's model: every pass
runs on a deep copy. The expensive work is done lazily, once, and cached:

- ``data_pass``: one forward of the minibatch through a copy with BatchNorm kept in train mode, then up to
  three backwards of that same forward, each only when a requested proxy needs it:
  the loss gradient dL/dW of every scored weight (grad_norm, snip, plain, fisher's activation gradients,
  grasp's first half), the input gradient of the summed logits (jacob_cov), and the Hessian-gradient product
  H·g (grasp's second half, which needs the loss gradient built with ``create_graph``).
- ``hessian_grad_fd``: H·g by a finite difference of loss gradients instead (grasp's opt-in
  ``hessian="central_difference"`` / ``"forward_difference"``): one or two more forward/backwards of the
  data-pass copy at perturbed weights, and no ``create_graph`` on the shared loss gradient. The data pass then
  records the on/off pattern of every ``nn.ReLU`` input (the ``relu_masks`` pass) and the perturbed forwards
  reuse it, so the difference sees the same smooth piece of the network that the exact product differentiates.
- ``copy_model``: a fresh copy for a proxy that needs its own model (synflow removes BatchNorm from it).
- the ``relu_codes`` pass: the same forward also records the binary code of every ``nn.ReLU`` input
  (``zcnas.proxies.recorders.ReluCodes``: NASWOT's kernel), so NASWOT costs no forward of its own; when no
  requested proxy needs a backward, that forward runs without autograd.
- ``cached(key, build)``: any other work several proxies read (SWAP and reg-SWAP's forwards, AZ-NAS's three
  components, MeCo's single-sample forward), computed once per call and timed like the passes above.
- ``generator(key)``: a ``torch.Generator`` for proxy-internal random numbers (Gaussian re-inits and inputs,
  channel subsets), seeded from ``torch.initial_seed()`` (the ``seed`` of ``compute_proxies``) and ``key``, so a
  proxy's random numbers do not depend on which other proxies ran before it.

Token models: where the input enters is ``input_entry`` (a model's marked module, else for integer token ids its
first ``nn.Embedding``); the input Jacobian is taken at that module's output instead of at the input.

Scored layers are the reference's: every ``nn.Conv2d`` and ``nn.Linear`` in ``model.modules()`` order, weights
only (no biases, no BatchNorm parameters), unless the caller passes other ``layer_types``.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from zcnas.layer_marks import is_input_entry, keeps_batchnorm
from zcnas.proxies.recorders import ReluCodes

#: The shared passes a proxy may declare (``register_proxy(passes=...)``), each computed at most once per call:
#: the loss gradient dL/dW, fisher's activation terms, the Hessian-gradient product H·g, the input Jacobian, and
#: the binary codes of every ReLU input of the same forward (NASWOT's kernel), and the ReLU on/off masks that
#: grasp's finite-difference Hessian replays.
SHARED_PASSES: frozenset[str] = frozenset(
    {"loss_grad", "fisher", "hessian_grad", "input_jacobian", "relu_codes", "relu_masks"}
)

#: The layer kinds the reference scores.
DEFAULT_LAYER_TYPES: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)



class NotFinite(Exception):
    """Raised by a proxy whose score is undefined; the result becomes NaN with this reason."""


def scored_layers(model: nn.Module, layer_types: tuple[type[nn.Module], ...]) -> list[nn.Module]:
    """The layers whose weights a proxy scores, in ``model.modules()`` order."""
    return [m for m in model.modules() if isinstance(m, layer_types) and getattr(m, "weight", None) is not None]


def fan_in(weight: torch.Tensor) -> int:
    """Elements per output channel: C_in/groups·kh·kw for a conv, in_features for a Linear."""
    return int(weight[0].numel())


def remove_batchnorm(model: nn.Module, mode: str = "reference") -> int:
    """Replace BatchNorm modules of ``model`` (in place) by ``nn.Identity``; return how many were replaced.

    ``mode="reference"`` keeps modules a model marked with ``zcnas.layer_marks.keep_when_batchnorm_removed``, as
    the reference does for NAS-Bench-201's reduction blocks; ``mode="all"`` removes every BatchNorm.
    """
    if mode not in ("reference", "all"):
        raise ValueError(f"bn_removal={mode!r} is not allowed; use 'reference' or 'all'")
    replaced = 0
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                if mode == "reference" and keeps_batchnorm(child):
                    continue
                setattr(parent, child_name, nn.Identity())
                replaced += 1
    return replaced


def disable_inplace(model: nn.Module) -> int:
    """Turn off the ``inplace`` flag of every module that has one (ReLU, ReLU6, ELU, Hardswish, Dropout, ...), in
    place on ``model``; return how many were on.

    An in-place activation overwrites its input. That is harmless in the model as trained, where its input is a
    BatchNorm's fresh output, but once a proxy replaces that BatchNorm by an identity (synflow) the activation
    overwrites a tensor that a residual branch, a squeeze-excitation product or autograd still needs. Where the
    in-place ops only ever overwrote fresh tensors, out of place gives bit-identical values.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU(inplace=True))
        >>> disable_inplace(net), net[1].inplace
        (1, False)
    """
    switched = 0
    for module in model.modules():
        if isinstance(getattr(module, "inplace", None), bool) and module.inplace:
            module.inplace = False
            switched += 1
    return switched


def model_device_and_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """The device and floating dtype of a model's first floating parameter (CPU/float32 if it has none)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.device, p.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def input_entry(model: nn.Module, inputs: torch.Tensor) -> nn.Module | None:
    """The module whose output is ``model``'s continuous input, or None when the input itself is.

    The module marked with ``zcnas.layer_marks.mark_input_entry``; else, for integer inputs (token ids), the
    first ``nn.Embedding`` in ``model.modules()`` order; else None (floating-point inputs enter as they are).
    Input-gradient proxies differentiate against its output and all-ones probes replace its output.

    Example:
        >>> import torch
        >>> lm = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5))
        >>> input_entry(lm, torch.zeros(2, 4, dtype=torch.long)) is lm[0], input_entry(lm[1], torch.zeros(2, 3))
        (True, None)
    """
    marked = [m for m in model.modules() if is_input_entry(m)]
    if len(marked) > 1:
        raise ValueError(f"the model marks {len(marked)} modules as where its input enters; mark exactly one")
    if marked:
        return marked[0]
    if inputs.is_floating_point():
        return None
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            return module
    raise ValueError(
        f"inputs are integer token ids ({inputs.dtype}), but the model has no nn.Embedding to take them; pass "
        "floating-point inputs, or mark the module where the input enters with zcnas.layer_marks.mark_input_entry"
    )


@dataclass
class DataPass:
    """What one forward/backward of the minibatch produced, per scored layer of the copy."""

    layers: list[nn.Module]
    weights: list[torch.Tensor]
    weight_grads: list[torch.Tensor | None] | None = None
    fisher_channels: list[torch.Tensor | None] | None = None
    hessian_grads: list[torch.Tensor | None] | None = None
    input_grad: torch.Tensor | None = None
    relu: ReluCodes | None = None
    relu_masks: dict[nn.Module, list[torch.Tensor]] | None = None
    net: nn.Module | None = None
    rng_state: tuple[torch.Tensor, torch.Tensor | None] | None = None
    temperature: float = 1.0


@dataclass
class ProxyContext:
    """Inputs of one scoring call and the lazily computed passes that proxies share.

    Args:
        model: the caller's model; read, never modified.
        inputs: the minibatch, already on the model's device and dtype.
        targets: the labels, or None.
        loss_fn: ``loss_fn(logits, targets) -> scalar``.
        needs: the union of the passes the requested proxies read; decides which backwards the shared data
            pass runs.
        layer_types: the layer kinds whose weights are scored.
    """

    model: nn.Module
    inputs: torch.Tensor
    targets: torch.Tensor | None
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    needs: frozenset[str]
    layer_types: tuple[type[nn.Module], ...] = DEFAULT_LAYER_TYPES
    pass_seconds: dict[str, float] = field(default_factory=dict)
    readers: dict[str, set[str]] = field(default_factory=dict)
    current_proxy: str = ""
    _cache: dict = field(default_factory=dict)

    def copy_model(self) -> nn.Module:
        """A fresh deep copy of the caller's model in train mode, every parameter requiring grad, every module's
        in-place flag off (``disable_inplace``)."""
        try:
            net = copy.deepcopy(self.model)
        except Exception as exc:  # pragma: no cover - depends on exotic user models
            raise ValueError(f"the model cannot be deep-copied, which scoring needs: {exc}") from exc
        net.train()
        for p in net.parameters():
            p.requires_grad_(True)
        disable_inplace(net)
        return net

    def _timed(self, key: str, build: Callable[[], object]) -> object:
        self.readers.setdefault(key, set()).add(self.current_proxy)
        if key not in self._cache:
            start = time.perf_counter()
            self._cache[key] = build()
            self.pass_seconds[key] = time.perf_counter() - start
        return self._cache[key]

    def cached(self, key: str, build: Callable[[], object]) -> object:
        """``build()`` computed once per call under ``key``, timed and shared like the data pass."""
        return self._timed(key, build)

    def generator(self, key: str) -> torch.Generator:
        """A fresh generator on the inputs' device, seeded from ``torch.initial_seed()`` and ``key``."""
        digest = hashlib.sha256(f"{torch.initial_seed()}|{key}".encode()).digest()
        return torch.Generator(device=self.inputs.device).manual_seed(int.from_bytes(digest[:8], "little") >> 1)

    def data_pass(self, temperature: float = 1.0, hessian: bool = True) -> DataPass:
        """The shared forward/backward on the minibatch (BatchNorm kept, train mode), computed once.

        ``temperature`` other than 1 runs a pass of its own (grasp's option); ``hessian=False`` leaves the
        Hessian-gradient product out of that own pass (the shared pass follows ``needs``).
        """
        if temperature == 1.0:
            key = "data_pass"
        else:
            key = f"data_pass_T{temperature}" + ("" if hessian else "_nohessian")
        return self._timed(key, lambda: self._run_data_pass(temperature, hessian))  # type: ignore[return-value]

    def hessian_grad_fd(self, data: DataPass, scheme: str, eta: float) -> list[torch.Tensor | None]:
        """H·g by a finite difference of loss gradients, per scored layer (None where the gradient is None).

        With v = g (the data pass's loss gradient) and ε = eta·‖W‖/‖v‖ (norms over every scored weight that has
        a gradient), every ``nn.ReLU`` keeping the data pass's on/off pattern, ``"central_difference"`` gives (g(W + εv) − g(W − εv)) / 2ε (two more forward/backwards,
        error O(ε²)) and ``"forward_difference"`` gives (g(W + εv) − g(W)) / ε (one more, error O(ε)). Only the
        scored weights move; the forward replays the data pass's random-number state, so dropout masks match.

        Example:
            >>> net = nn.Linear(3, 2)
            >>> ctx = ProxyContext(net, torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), default_loss,
            ...                    frozenset({"loss_grad", "relu_masks"}))
            >>> [h.shape for h in ctx.hessian_grad_fd(ctx.data_pass(), "central_difference", 1e-3)]
            [torch.Size([2, 3])]
        """
        key = f"hessian_fd_{scheme}_{eta!r}_T{data.temperature!r}_{id(data)}"
        return self._timed(key, lambda: self._run_hessian_fd(data, scheme, eta))  # type: ignore[return-value]

    def _run_hessian_fd(self, data: DataPass, scheme: str, eta: float) -> list[torch.Tensor | None]:
        if scheme not in ("central_difference", "forward_difference"):
            raise ValueError(f"hessian={scheme!r} is not allowed; use 'central_difference' or 'forward_difference'")
        if data.weight_grads is None or data.net is None or data.relu_masks is None:
            raise ValueError("the finite-difference Hessian product needs a data pass with the loss gradient and "
                             "the ReLU masks (declare the 'loss_grad' and 'relu_masks' passes)")
        names = {id(p): n for n, p in data.net.named_parameters()}
        moved = [i for i, g in enumerate(data.weight_grads) if g is not None]
        out: list[torch.Tensor | None] = [None] * len(data.weights)
        if not moved:
            return out
        w_norm = math.sqrt(sum(float(data.weights[i].detach().double().pow(2).sum()) for i in moved))
        v_norm = math.sqrt(sum(float(data.weight_grads[i].double().pow(2).sum()) for i in moved))  # type: ignore[index]
        if v_norm == 0.0 or w_norm == 0.0:
            for i in moved:
                out[i] = torch.zeros_like(data.weights[i])
            return out
        eps = eta * w_norm / v_norm

        def grads_at(step: float) -> list[torch.Tensor]:
            params = {
                names[id(data.weights[i])]: (data.weights[i].detach() + step * data.weight_grads[i]).requires_grad_()
                for i in moved  # type: ignore[operator]
            }
            with ExitStack() as stack:
                stack.enter_context(
                    torch.random.fork_rng(devices=[self.inputs.device] if self.inputs.device.type == "cuda" else [])
                )
                _restore_rng(data.rng_state, self.inputs.device)
                for module, masks in (data.relu_masks or {}).items():
                    stack.callback(module.register_forward_hook(_mask_replayer(masks)).remove)
                with torch.enable_grad():
                    logits = functional_call(data.net, params, (self.inputs.detach(),))
                    loss = self.loss_fn(logits / data.temperature, self.targets)
                    return list(torch.autograd.grad(loss, list(params.values())))

        plus = grads_at(eps)
        if scheme == "central_difference":
            minus = grads_at(-eps)
            diffs = [(a - b) / (2 * eps) for a, b in zip(plus, minus)]
        else:
            diffs = [(a - data.weight_grads[i]) / eps for a, i in zip(plus, moved)]  # type: ignore[index]
        for i, d in zip(moved, diffs):
            out[i] = d.detach()
        return out

    def _run_data_pass(self, temperature: float, hessian: bool = True) -> DataPass:
        own = frozenset({"loss_grad", "hessian_grad"} if hessian else {"loss_grad", "relu_masks"})
        needs = self.needs if temperature == 1.0 else own
        need_loss = bool(needs & {"loss_grad", "fisher", "hessian_grad"})
        need_hessian = "hessian_grad" in needs
        need_fisher = "fisher" in needs
        need_jacobian = "input_jacobian" in needs

        net = self.copy_model()
        layers = scored_layers(net, self.layer_types)
        weights = [layer.weight for layer in layers]
        result = DataPass(layers=layers, weights=weights, net=net, rng_state=_rng_state(self.inputs.device),
                          temperature=temperature)

        entry = input_entry(net, self.inputs)  # None: the input itself (images); else e.g. the embedding
        x = self.inputs.detach().clone().requires_grad_(need_jacobian and entry is None)
        entered: list[torch.Tensor] = []
        outputs: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(layers))}
        handles = []
        if need_jacobian and entry is not None:
            handles.append(entry.register_forward_hook(_recorder(entered)))
        if need_fisher:
            for i, layer in enumerate(layers):
                handles.append(layer.register_forward_hook(_recorder(outputs[i])))
        if "relu_codes" in needs:
            result.relu = ReluCodes(kernel=True)
        if "relu_masks" in needs:
            result.relu_masks = {m: [] for m in net.modules() if isinstance(m, nn.ReLU)}
            handles += [m.register_forward_hook(_mask_recorder(store)) for m, store in result.relu_masks.items()]
        try:
            with ExitStack() as stack:
                if result.relu is not None:
                    stack.enter_context(result.relu.attached(net))
                stack.enter_context(torch.set_grad_enabled(need_loss or need_jacobian))
                logits = run_forward(net, x)
        finally:
            for handle in handles:
                handle.remove()

        n_backwards = int(need_loss) + int(need_jacobian) + int(need_hessian)
        if need_loss:
            if self.targets is None:
                raise ValueError("this proxy needs targets (labels); pass targets=... to compute_proxies")
            loss = self.loss_fn(logits / temperature, self.targets)
            flat_acts = [t for i in range(len(layers)) for t in outputs[i]]
            n_backwards -= 1
            grads = torch.autograd.grad(
                loss,
                weights + flat_acts,
                allow_unused=True,
                create_graph=need_hessian,
                retain_graph=n_backwards > 0,
            )
            weight_grads = list(grads[: len(weights)])
            result.weight_grads = [None if g is None else g.detach() for g in weight_grads]
            if need_fisher:
                act_grads = iter(grads[len(weights):])
                result.fisher_channels = [
                    _fisher_channels(outputs[i], [next(act_grads) for _ in outputs[i]]) for i in range(len(layers))
                ]
        if need_jacobian:
            n_backwards -= 1
            wrt = x if entry is None else _entry_output(entered)
            (jac,) = torch.autograd.grad(logits.sum(), wrt, retain_graph=n_backwards > 0)
            result.input_grad = jac.detach()
        if need_hessian:
            z = None
            for g in weight_grads:
                if g is not None and g.requires_grad:
                    term = (g.detach() * g).sum()
                    z = term if z is None else z + term
            if z is None:
                result.hessian_grads = [None] * len(weights)
            else:
                hg = torch.autograd.grad(z, weights, allow_unused=True)
                result.hessian_grads = [None if h is None else h.detach() for h in hg]
        return result


def _mask_recorder(store: list[torch.Tensor]):
    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        store.append(args[0].detach() > 0)

    return hook


def _mask_replayer(masks: list[torch.Tensor]):
    """A forward hook making the k-th call of a ReLU output input·mask_k (the data pass's k-th pattern)."""
    calls = iter(masks)

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        mask = next(calls, None)
        if mask is None or mask.shape != args[0].shape:
            raise ValueError("a ReLU ran more often, or on other shapes, than in the data pass; the "
                             "finite-difference Hessian needs the same forward")
        return args[0] * mask

    return hook


def _rng_state(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The CPU (and, on a GPU, the device's) random-number state, to replay a forward's dropout masks."""
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def _restore_rng(state: tuple[torch.Tensor, torch.Tensor | None] | None, device: torch.device) -> None:
    if state is None:
        return
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def _entry_output(entered: list[torch.Tensor]) -> torch.Tensor:
    """The one output of the input-entry module in the forward (the input Jacobian is taken against it)."""
    if len(entered) != 1:
        raise ValueError(f"the model's input-entry module ran {len(entered)} times in one forward; the input "
                         "Jacobian needs it to run exactly once")
    return entered[0]


def _recorder(store: list[torch.Tensor]):
    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        store.append(output)

    return hook


def _fisher_channels(acts: list[torch.Tensor], grads: list[torch.Tensor | None]) -> torch.Tensor | None:
    """Per output channel: ½·mean_n(s_{n,c}²) with s = Σ_spatial z·∂L/∂z, summed over calls of the layer."""
    total = None
    for z, g in zip(acts, grads):
        if g is None:
            continue
        prod = z.detach() * g.detach()
        s = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
        value = s.pow(2).mean(0).mul(0.5)
        total = value if total is None else total + value
    return total


def run_forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Forward ``x`` through ``net``; a shape mismatch becomes one clear ValueError."""
    try:
        out = net(x)
    except RuntimeError as exc:
        message = str(exc).splitlines()[0]
        raise ValueError(
            f"the model could not run on inputs of shape {tuple(x.shape)} ({x.dtype}): {message}"
        ) from exc
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"the model must return one tensor of logits; it returned {type(out).__name__}")
    return out


def default_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy, as the reference uses, with the classes on the last dimension of the logits.

    Logits (batch, classes) take targets (batch,). A sequence model's logits (batch, time, ..., classes) take
    targets (batch, time, ...) and the loss is the mean over every position: a language model's next-token
    cross-entropy over the window (our decision for token models; the reference has none). Logits that are not
    (batch, ..., classes), targets of another shape, or class indices out of range give one clear ValueError.

    Example:
        >>> import torch
        >>> logits, targets = torch.randn(2, 3, 5), torch.tensor([[0, 1, 2], [3, 4, 0]])
        >>> torch.allclose(default_loss(logits, targets), F.cross_entropy(logits.reshape(6, 5), targets.reshape(6)))
        True
    """
    if logits.dim() < 2:
        raise ValueError(
            f"the model returns outputs of shape {tuple(logits.shape)}, one number per sample; cross-entropy "
            "needs logits of shape (batch, classes) — return class scores, or pass a loss_fn for this output"
        )
    if logits.dim() > 2:
        wanted = tuple(logits.shape) if targets.is_floating_point() else tuple(logits.shape[:-1])
        if tuple(targets.shape) != wanted:
            raise ValueError(
                f"logits of shape {tuple(logits.shape)} (classes last) take targets of shape {wanted}, one per "
                f"position; got targets of shape {tuple(targets.shape)}"
            )
        logits = logits.reshape(-1, logits.shape[-1])
        targets = targets.reshape(-1, logits.shape[-1]) if targets.is_floating_point() else targets.reshape(-1)
    if not targets.is_floating_point():
        n_classes = logits.shape[-1]
        if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= n_classes):
            raise ValueError(
                f"targets must be class indices in 0..{n_classes - 1} for a model with {n_classes} outputs; "
                f"got values from {int(targets.min())} to {int(targets.max())}"
            )
    return F.cross_entropy(logits, targets)
