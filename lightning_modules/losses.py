"""Loss and fusion-rule building blocks shared by several methods (methods spec section 0).

All functions take float tensors N x C x H x W and are differentiable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["gaussian_window", "l1_norm_fusion", "laplacian", "sobel_gradients", "ssim_loss_kornia"]


def gaussian_window(size: int = 11, sigma: float = 1.5, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """Normalised 2-D Gaussian window, ``size x size`` (sums to 1)."""
    coords = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).to(dtype)


def ssim_loss_kornia(x: torch.Tensor, y: torch.Tensor, window_size: int = 11) -> torch.Tensor:
    """SSIM_K: kornia 0.2-0.4 ``losses.SSIM(11)`` written out, for images in [0, 1].

    11 x 11 Gaussian (sigma 1.5), reflect padding 5, C1 = 0.01^2, C2 = 0.03^2;
    loss = mean(clamp(1 - ssim_map, 0, 1) / 2). Scalar in [0, 0.5].
    """
    channels = x.shape[1]
    window = gaussian_window(window_size, 1.5, dtype=x.dtype, device=x.device)
    window = window.expand(channels, 1, window_size, window_size).contiguous()
    pad = window_size // 2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(t, (pad, pad, pad, pad), mode="reflect"), window, groups=channels)

    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = blur(x), blur(y)
    sigma_x = blur(x * x) - mu_x**2
    sigma_y = blur(y * y) - mu_y**2
    sigma_xy = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sigma_x + sigma_y + c2))
    return torch.clamp(1 - ssim_map, 0, 1).div(2).mean()


def sobel_gradients(x: torch.Tensor) -> torch.Tensor:
    """Sobel_K: kornia ``SpatialGradient()``, normalised Sobel (kernels / 8), replicate padding 1.

    Args:
        x: N x C x H x W.

    Returns:
        N x C x 2 x H x W: (gx, gy), not a magnitude.
    """
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device) / 8
    kernel = torch.stack([kx, kx.t()]).unsqueeze(1)  # 2 x 1 x 3 x 3
    n, c, h, w = x.shape
    padded = F.pad(x.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, kernel).reshape(n, c, 2, h, w)


def laplacian(x: torch.Tensor) -> torch.Tensor:
    """Lap: 3 x 3 Laplacian [[0,1,0],[1,-4,1],[0,1,0]] with zero padding 1, per channel. Same shape as ``x``."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=x.dtype, device=x.device)
    channels = x.shape[1]
    return F.conv2d(x, kernel.expand(channels, 1, 3, 3).contiguous(), padding=1, groups=channels)


def l1_norm_fusion(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """L1FUSE: activity-weighted fusion of two feature maps N x C x H x W (DIDFuse code, DenseFuse paper).

    Activity A_k = 3 x 3 box average (zero padding 1) of sum_c |k_c|, broadcast to all
    channels; w_a = A_a / (A_a + A_b + eps); output w_a a + w_b b. A plain ratio, no exponent.
    """
    activity_a = F.avg_pool2d(a.abs().sum(1, keepdim=True), 3, stride=1, padding=1, count_include_pad=True)
    activity_b = F.avg_pool2d(b.abs().sum(1, keepdim=True), 3, stride=1, padding=1, count_include_pad=True)
    total = activity_a + activity_b + eps
    return (activity_a / total) * a + (activity_b / total) * b
