"""jacob_cov: the eigenvalue score of the correlation matrix of per-sample input Jacobians (Mellor et al. v1).

Reference behaviour: J = ∂(Σ logits)/∂x from the shared forward (BatchNorm in train mode, so samples are coupled
through batch statistics), rows flattened to N × (C·H·W), ``numpy.corrcoef`` across samples, eigenvalues by the
general ``numpy.linalg.eig``, score −Σ [log(λ + k) + 1/(λ + k)] with k = 1e-5. Any failure (a zero Jacobian makes
the correlation NaN) is NaN with a reason. ``eigen_solver="eigvalsh"`` is the symmetric solver (a deviation).
"""

from __future__ import annotations

import warnings

import numpy as np

from zcnas.proxies.passes import NotFinite, ProxyContext
from zcnas.proxies.registry import register_proxy


def jacobian_score(jacobian: np.ndarray, k: float = 1e-5, eigen_solver: str = "eig") -> float:
    """The reference's score of an N × D matrix of per-sample Jacobians; NotFinite when undefined.

    Example:
        >>> import numpy as np
        >>> round(jacobian_score(np.eye(3)), 3)  # correlation of 3 orthogonal rows: eigenvalues 1.5, 1.5, 0
        -99990.631
    """
    if eigen_solver not in ("eig", "eigvalsh"):
        raise ValueError(f"jacob_cov eigen_solver={eigen_solver!r} is not allowed; use 'eig' (reference) or 'eigvalsh'")
    if jacobian.shape[0] < 2:
        raise NotFinite(f"jacob_cov needs at least 2 samples in the batch; got {jacobian.shape[0]}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        corr = np.corrcoef(jacobian)
        if not np.all(np.isfinite(corr)):
            raise NotFinite("jacob_cov: the Jacobian correlation is not finite (a sample's Jacobian is constant, "
                            "e.g. every path to the output is 'none')")
        try:
            eigenvalues = np.linalg.eig(corr)[0] if eigen_solver == "eig" else np.linalg.eigvalsh(corr)
        except np.linalg.LinAlgError as exc:
            raise NotFinite(f"jacob_cov: the eigen-solver failed: {exc}") from exc
        if np.iscomplexobj(eigenvalues):
            if np.any(eigenvalues.imag != 0):
                raise NotFinite("jacob_cov: the general eigen-solver returned complex eigenvalues")
            eigenvalues = eigenvalues.real
        score = -np.sum(np.log(eigenvalues + k) + 1.0 / (eigenvalues + k))
    if not np.isfinite(score):
        raise NotFinite(f"jacob_cov is {score} (an eigenvalue fell below -k={-k})")
    return float(score)


def _check_k(k: float) -> None:
    if not k > 0:
        raise ValueError(f"jacob_cov option k={k!r} is not allowed; use a positive number (reference: 1e-5)")


@register_proxy(
    "jacob_cov",
    tags=("paper",),
    needs_labels=False,
    passes=("input_jacobian",),
    paper="Mellor et al., Neural Architecture Search without Training, arXiv v1 (as used by Abdelfattah et al.)",
    description="-sum(log(l+k) + 1/(l+k)) over eigenvalues l of the correlation of per-sample input Jacobians",
    defaults={"k": 1e-5, "eigen_solver": "eig"},
    choices={"eigen_solver": ("eig", "eigvalsh")},
    check=lambda o: _check_k(o["k"]),
)
def jacob_cov(ctx: ProxyContext, k: float = 1e-5, eigen_solver: str = "eig") -> float:
    """Score from the input Jacobian of the shared forward; NaN with a reason when undefined."""
    jac = ctx.data_pass().input_grad
    matrix = jac.reshape(jac.shape[0], -1).cpu().numpy()
    return jacobian_score(matrix, k=k, eigen_solver=eigen_solver)
