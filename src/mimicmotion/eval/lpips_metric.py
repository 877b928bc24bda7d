"""LPIPS through the `lpips` package, when it is installed (it needs torchvision and fetches
its AlexNet weights on first use). Not a dependency of mimicmotion: asking for LPIPS without it
gives one clear message."""

from __future__ import annotations

import numpy as np

from mimicmotion.errors import MimicMotionError


class LpipsMetric:
    """LPIPS (AlexNet variant, v0.1) of two RGB uint8 frames of the same size; lower is closer."""

    def __init__(self, device: str = "cpu") -> None:
        try:
            import lpips
        except ImportError:
            raise MimicMotionError(
                "LPIPS needs the `lpips` package, which also needs torchvision: "
                "`pip install lpips torchvision`, or leave lpips out of --metrics"
            ) from None
        import torch

        self._torch = torch
        self.device = torch.device(device)
        try:
            self.model = lpips.LPIPS(net="alex", verbose=False).to(self.device).eval()
        except (OSError, RuntimeError) as error:
            raise MimicMotionError(f"cannot set up LPIPS (its AlexNet weights): {error}") from None

    def __call__(self, pred: np.ndarray, gt: np.ndarray) -> float:
        torch = self._torch

        def tensor(frame: np.ndarray):
            # lpips expects (1, 3, H, W) in [-1, 1]
            return torch.tensor(frame, device=self.device).permute(2, 0, 1)[None].float() / 127.5 - 1

        with torch.no_grad():
            return float(self.model(tensor(pred), tensor(gt)).item())
