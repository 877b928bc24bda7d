"""Training the toy world's temporal VAE on synthetic frames, before MimicMotion training.

Clips of a few consecutive frames of training-world dancers (identities and motions from the training
streams, never the test ones) are rendered on the fly; the encoder sees frames, the temporal decoder a
clip's latents together. The loss is the reconstruction error (squared plus absolute), weighted up on
and around the figure so that thin limbs and fingers are not traded for background, plus a small KL
term that keeps the latents a well-behaved Gaussian. Afterwards the scaling factor is set to
1 / (standard deviation of the latents), the rule that gave SD and SVD theirs.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from . import base, dancer, motions

FIGURE_WEIGHT = 4.0
KL_WEIGHT = 1e-4


def clip_batches(
    rng: np.random.Generator, height: int, width: int, clips: int, frames: int, crop: int | None = None
):
    """Endless batches: (frames (clips * frames, 3, h, w) in [-1, 1], weights (clips * frames, 1, h, w)),
    of the whole frame or of `crop` x `crop` pieces of it (one place per clip, mostly on the figure):
    the VAE is convolutional, so it learns from pieces at a fraction of the cost."""
    identities = [dancer.random_identity(rng) for _ in range(64)]
    while True:
        images, weights = [], []
        for _ in range(clips):
            identity = identities[int(rng.integers(len(identities)))]
            points = motions.procedural(rng, frames, height, width)
            drawn = [dancer.draw(identity, p, height, width) for p in points]
            rows, cols = slice(None), slice(None)
            if crop is not None:
                on_figure = np.argwhere(drawn[0][1])
                if len(on_figure) and rng.random() < 0.8:
                    y, x = on_figure[rng.integers(len(on_figure))]
                else:
                    y, x = rng.integers(height), rng.integers(width)
                top = int(np.clip(y - crop // 2, 0, height - crop))
                left = int(np.clip(x - crop // 2, 0, width - crop))
                rows, cols = slice(top, top + crop), slice(left, left + crop)
            for frame, silhouette in drawn:
                near = cv2.dilate(silhouette.astype(np.uint8), np.ones((5, 5), np.uint8))
                images.append(frame[rows, cols])
                weights.append(1.0 + FIGURE_WEIGHT * near[rows, cols])
        x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        yield x, torch.from_numpy(np.stack(weights)).float()[:, None]


def train_vae(
    height: int,
    width: int,
    steps: int,
    seed: int,
    lr: float = 1e-3,
    clips: int = 4,
    frames: int = 2,
    crop: int = 64,
    device: str = "cpu",
):
    """A trained `AutoencoderKLTemporalDecoder` (on `device`) and its log [(step, loss, seconds)]."""
    torch.manual_seed(seed)
    vae = base.new_vae(seed).to(device).train()
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=0.05)
    batches = clip_batches(np.random.default_rng([seed, 7]), height, width, clips, frames, crop)
    log, started = [], time.perf_counter()
    bar = tqdm(range(steps), desc="toy VAE", unit="step")
    for step in bar:
        x, weight = (t.to(device) for t in next(batches))
        posterior = vae.encode(x).latent_dist
        z = posterior.sample()
        reconstruction = vae.decode(z, num_frames=frames).sample
        error = reconstruction - x
        loss = (weight * (error.square() + error.abs())).mean() + KL_WEIGHT * posterior.kl().mean() / z[
            0
        ].numel()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 50 == 0 or step == steps - 1:
            log.append((step, loss.item(), round(time.perf_counter() - started, 1)))
            bar.set_postfix(loss=f"{loss.item():.4f}")
    vae.eval()
    with torch.no_grad():
        x = next(clip_batches(np.random.default_rng([seed, 9]), height, width, 2, frames))[0].to(device)
        latents = torch.cat([vae.encode(x[i : i + 4]).latent_dist.sample() for i in range(0, len(x), 4)])
        vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    return vae, log


@torch.no_grad()
def reconstruction_psnr(vae, height: int, width: int, seed: int, frames: int = 4) -> float:
    """PSNR (dB) of encode -> decode on fresh training-world clips: how much detail the latent keeps."""
    x = next(clip_batches(np.random.default_rng([seed, 8]), height, width, 2, frames))[0].to(vae.device)
    y = vae.decode(vae.encode(x).latent_dist.mode(), num_frames=frames).sample.clamp(-1, 1)
    mse = ((y - x) / 2).square().mean()
    return float(10 * torch.log10(1.0 / mse))
