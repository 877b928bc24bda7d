"""Training MimicMotion: prepared data, the dataset, the EDM objective, the accelerate loop, checkpoints.

Modules, in the order the data flows:
- `prepare`: videos -> per-video PoseSequence + metadata (`mimicmotion prepare-data`);
- `dataset`: prepared videos -> training samples (frames, reference, pose pictures, hand weight map);
- `hand_mask`: keypoints -> hand boxes -> the loss weight map (paper 3.4, "hand region enhancement");
- `objective`: EDM noise levels, the v-prediction preconditioning, the weighted loss (paper appendix A);
- `step`: one batch -> loss, conditioned exactly as the inference pipeline conditions;
- `loop`: the accelerate training loop (`mimicmotion train`); `checkpoint`: save, resume, export.
"""
