"""GRPO pieces: group advantages, clipped surrogate, and learning on a toy task."""

from __future__ import annotations

import pytest
import torch

from apeiria_model.model.tiny import build_tiny_model
from apeiria_model.training.grpo import GRPOSettings, GRPOTrainer, clipped_surrogate, group_advantages


def test_group_advantages_normalised_within_group():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [5.0, 5.0, 5.0, 5.0], [2.0, 4.0, 6.0, 8.0]])
    a = group_advantages(r)
    assert torch.allclose(a.mean(dim=1), torch.zeros(3), atol=1e-6)
    assert torch.allclose(a[0], torch.tensor([1.0, -1.0, -1.0, 1.0]), atol=1e-3)
    assert torch.equal(a[1], torch.zeros(4))          # no signal when every sample ties
    assert torch.allclose(a[2].std(unbiased=False), torch.tensor(1.0), atol=1e-3)
    # each group on its own scale: multiplying one group's rewards changes nothing
    r2 = r.clone()
    r2[2] *= 10
    assert torch.allclose(group_advantages(r2)[2], a[2], atol=1e-3)


def test_clipping_active_and_blocks_gradient():
    old = torch.zeros(2, 3)
    new = torch.tensor([[0.5, 0.0, -0.5], [0.5, 0.0, -0.5]], requires_grad=True)  # ratios e^.5=1.65, 1, e^-.5=.61
    adv = torch.tensor([1.0, -1.0])
    mask = torch.ones(2, 3, dtype=torch.bool)
    loss, st = clipped_surrogate(new, old, adv, mask, 0.2, 0.28)
    loss.backward()
    g = new.grad
    assert g[0, 0] == 0 and g[1, 2] == 0          # ratio beyond the clip range: no push further
    assert g[0, 1] < 0 and g[1, 1] > 0            # inside: positive advantage raises logp
    assert g[0, 2] < 0 and g[1, 0] > 0            # the pessimistic side is never clipped
    assert st["clip_frac"] == pytest.approx(2 / 6)
    # masked tokens contribute nothing
    new2 = new.detach().clone().requires_grad_(True)
    m2 = mask.clone()
    m2[:, 2] = False
    clipped_surrogate(new2, old, adv, m2)[0].backward()
    assert torch.equal(new2.grad[:, 2], torch.zeros(2))


@pytest.mark.kernels  # a short training with a probability threshold
def test_grpo_raises_probability_of_rewarded_token(office_scene):
    """Warm-started (as in the curriculum: RL from a random init stays at chance) to a
    50/50 choice between two answers, GRPO rewarding one must make it more likely."""
    torch.manual_seed(0)
    model = build_tiny_model(seed=1)
    good, bad = model.tokenizer.encode(" 1")[0], model.tokenizer.encode(" 2")[0]
    proc = model.processor
    prompt = proc.encode_prompt("pick one", office_scene)
    sft = proc.collate([proc.encode_example("pick one", office_scene, " 1"),
                        proc.encode_example("pick one", office_scene, " 2")])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(20):
        loss, _ = model(**sft)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def probs() -> tuple[float, float]:
        with torch.no_grad():
            _, logits = model.eval()(**proc.collate([prompt]))
        p = torch.softmax(logits[0, -1], -1)
        return float(p[good]), float(p[bad])

    before = probs()
    assert abs(before[0] - before[1]) < 0.2 and before[0] > 0.3

    def reward(text, sample, finished, ids):
        return 1.0 if ids and ids[0] == good else 0.0

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    s = GRPOSettings(group_size=8, temperature=1.0, max_new_tokens=2, ppo_epochs=2)
    trainer = GRPOTrainer(model, opt, s, reward, generator=torch.Generator().manual_seed(0))
    stats = [trainer.step([(prompt, None)]) for _ in range(5)]
    after = probs()
    assert after[0] > before[0] + 0.15, (before, after)
    assert after[1] < before[1]
    assert all(0.0 <= st["reward_mean"] <= 1.0 for st in stats)
    assert stats[-1]["kl"] > 0.0                  # moved away from the reference policy
    assert all(st["entropy"] > 0 for st in stats)


def test_settings_validation():
    with pytest.raises(ValueError, match="group_size"):
        GRPOSettings(group_size=1).validate()
