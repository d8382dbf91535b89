"""Small models from the areas of public tutorials that the other programs leave out, trained
side by side for --steps steps: PPO with GAE (Categorical log-probs and entropy, the clipped
objective), a VAE (reparameterised Normal, kl_divergence of Independent Normals), a RealNVP flow
(a TransformedDistribution over a hand-written coupling Transform), SimCLR's NT-Xent (normalize,
mm, an eye(...).bool() mask), knowledge distillation (kl_div with a temperature) and a neural
ODE through a hand-written RK4. The training tools come along: checkpoint (reentrant and not),
weight_norm/spectral_norm/orthogonal parametrizations, l1 pruning, an EMA AveragedModel,
OneCycleLR, gradient accumulation, and a mid-run torch.save/torch.load of the whole training
state (model, optimizer, schedulers, SWA, RNG) resumed into freshly built objects, the SWALR
among them with another annealing strategy than the saved one. Everything random comes from
``torch.manual_seed``."""
import argparse
import io

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import (Categorical, Independent, MultivariateNormal, Normal,
                                 TransformedDistribution, constraints, kl_divergence)
from torch.distributions.transforms import Transform
from torch.nn.utils import parametrizations, prune
from torch.optim.lr_scheduler import OneCycleLR
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_multi_avg_fn
from torch.utils.checkpoint import checkpoint

from common import report


class ActorCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
        self.critic = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, states, actions=None):
        dist = Categorical(logits=self.actor(states))
        if actions is None:
            actions = dist.sample()
        return actions, dist.log_prob(actions), dist.entropy(), self.critic(states).squeeze(-1)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = parametrizations.weight_norm(nn.Linear(12, 16))
        self.mu = nn.Linear(16, 3)
        self.log_var = nn.Linear(16, 3)
        self.decoder = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 12))

    def forward(self, x):
        hidden = checkpoint(lambda h: F.elu(self.encoder(h)), x, use_reentrant=False)
        mu, log_var = self.mu(hidden), self.log_var(hidden)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        return self.decoder(z), mu, log_var


class AffineCoupling(Transform):
    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, net, mask):
        super().__init__()
        self.net = net
        self.mask = mask

    def _scale_shift(self, x):
        scale, shift = self.net(x * self.mask).chunk(2, dim=-1)
        return torch.tanh(scale) * (1 - self.mask), shift * (1 - self.mask)

    def _call(self, x):
        scale, shift = self._scale_shift(x)
        return x * torch.exp(scale) + shift

    def _inverse(self, y):
        scale, shift = self._scale_shift(y)
        return (y - shift) * torch.exp(-scale)

    def log_abs_det_jacobian(self, x, y):
        return self._scale_shift(x)[0].sum(-1)


class ODEFunc(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))

    def forward(self, t, y):
        return self.net(y)


def rk4(func, y, times):
    states = [y]
    for t0, t1 in zip(times[:-1], times[1:]):
        dt = t1 - t0
        k1 = func(t0, y)
        k2 = func(t0 + dt / 2, y + dt * k1 / 2)
        k3 = func(t0 + dt / 2, y + dt * k2 / 2)
        k4 = func(t1, y + dt * k3)
        y = y + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6
        states.append(y)
    return torch.stack(states)


def nt_xent(features, temperature=0.5):
    features = F.normalize(features, dim=1)
    count = features.shape[0] // 2
    similarity = torch.mm(features, features.t()) / temperature
    similarity = similarity.masked_fill(torch.eye(2 * count).bool(), float("-inf"))
    targets = torch.cat([torch.arange(count, 2 * count), torch.arange(count)])
    return F.cross_entropy(similarity, targets)


def build():
    """Every model, its optimizer and schedulers, in a fixed order of initialisation."""
    torch.manual_seed(0)
    parts = {
        "agent": ActorCritic(),
        "vae": VAE(),
        "flow": nn.ModuleList([nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 4))
                               for _ in range(2)]),
        "encoder": nn.Sequential(parametrizations.spectral_norm(nn.Linear(6, 16)), nn.ReLU(),
                                 nn.Linear(16, 8)),
        "student": nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4)),
        "teacher": nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 4)),
        "ode": ODEFunc(),
        "mixer": parametrizations.orthogonal(nn.Linear(4, 4)),
    }
    prune.l1_unstructured(parts["encoder"][2], "weight", amount=0.3)
    trained = nn.ModuleDict({name: module for name, module in parts.items()
                             if name != "teacher"})
    optimizer = torch.optim.SGD(trained.parameters(), lr=0.05, momentum=0.9)
    one_cycle = OneCycleLR(optimizer, max_lr=0.05, total_steps=1000, pct_start=0.05)
    ema = AveragedModel(parts["student"], multi_avg_fn=get_ema_multi_avg_fn(0.9))
    swa_optimizer = torch.optim.SGD(parts["ode"].parameters(), lr=0.02)
    swa_scheduler = SWALR(swa_optimizer, swa_lr=0.005, anneal_epochs=16, anneal_strategy="cos")
    return parts, trained, optimizer, one_cycle, ema, swa_optimizer, swa_scheduler


def rollout(agent, steps=8, envs=4):
    """A short rollout of a toy environment and its GAE advantages."""
    states, actions, log_probs, rewards, values = [], [], [], [], []
    state = torch.randn(envs, 4)
    with torch.no_grad():
        for _ in range(steps):
            action, log_prob, _, value = agent(state)
            states.append(state)
            actions.append(action)
            log_probs.append(log_prob)
            values.append(value)
            rewards.append((action.float() - 1.0) * state[:, 0])
            state = state * 0.9 + 0.1 * torch.randn(envs, 4)
        next_value = agent(state)[3]
        advantages = torch.zeros(steps, envs)
        last = torch.zeros(envs)
        for t in reversed(range(steps)):
            following = next_value if t == steps - 1 else values[t + 1]
            delta = rewards[t] + 0.99 * following - values[t]
            advantages[t] = last = delta + 0.99 * 0.95 * last
        returns = advantages + torch.stack(values)
    return (torch.cat(states), torch.cat(actions), torch.cat(log_probs),
            advantages.reshape(-1), returns.reshape(-1))


def step_losses(parts, data):
    agent, vae, flow_nets = parts["agent"], parts["vae"], parts["flow"]
    states, actions, old_log_probs, advantages, returns = data["rollout"]
    _, log_probs, entropy, values = agent(states, actions)
    ratio = (log_probs - old_log_probs).exp()
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy = torch.max(-advantages * ratio, -advantages * torch.clamp(ratio, 0.8, 1.2)).mean()
    ppo = policy + 0.5 * F.mse_loss(values, returns) - 0.01 * entropy.mean()

    reconstruction, mu, log_var = vae(data["images"])
    posterior = Independent(Normal(mu, torch.exp(0.5 * log_var)), 1)
    prior = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    vae_loss = (F.mse_loss(reconstruction, data["images"], reduction="sum") / 16
                + kl_divergence(posterior, prior).mean())

    masks = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])]
    base = MultivariateNormal(torch.zeros(2), torch.eye(2))
    flow = TransformedDistribution(base, [AffineCoupling(net, mask)
                                          for net, mask in zip(flow_nets, masks)])
    flow_loss = -flow.log_prob(data["points"]).mean()

    # the reentrant form needs an input that requires grad for the encoder's gradients
    views = torch.cat([data["views"], data["views"].flip(1) * 0.9]).requires_grad_()
    contrastive = nt_xent(checkpoint(parts["encoder"], views, use_reentrant=True))

    temperature = 3.0
    with torch.no_grad():
        teacher_logits = parts["teacher"](data["features"])
    student_logits = parts["student"](data["features"])
    distillation = F.kl_div(F.log_softmax(student_logits / temperature, dim=1),
                            F.softmax(teacher_logits / temperature, dim=1),
                            reduction="batchmean") * temperature ** 2
    distillation = distillation + 0.5 * F.cross_entropy(student_logits, data["labels"],
                                                        label_smoothing=0.1)

    trajectory = rk4(parts["ode"], data["start"], data["times"])
    ode = (trajectory - data["trajectory"]).abs().mean()
    mixed = parts["mixer"](data["features"][:, :4]).pow(2).mean()
    return ppo, vae_loss, flow_loss, contrastive, distillation, ode, mixed


def make_data(parts):
    true_matrix = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])
    start = torch.tensor([[2.0, 0.0], [0.5, 1.0]])
    times = torch.linspace(0.0, 1.0, 6)
    with torch.no_grad():
        trajectory = rk4(lambda t, y: torch.mm(y, true_matrix) * 0.3, start, times)
    return {"rollout": rollout(parts["agent"]), "images": torch.rand(16, 12),
            "points": torch.randn(64, 2) @ torch.tensor([[1.0, 0.4], [0.0, 0.5]]) + 1.0,
            "views": torch.randn(8, 6), "features": torch.randn(16, 6),
            "labels": torch.randint(0, 4, (16,)), "start": start, "times": times,
            "trajectory": trajectory}


def train_step(parts, trained, optimizer, one_cycle, ema, swa_optimizer, swa_scheduler, data):
    optimizer.zero_grad()
    swa_optimizer.zero_grad()
    pieces = step_losses(parts, data)
    total = sum(pieces)
    for piece in pieces:  # gradient accumulation: one backward per loss
        piece.backward(retain_graph=True)
    nn.utils.clip_grad_norm_(trained.parameters(), max_norm=5.0)
    optimizer.step()
    one_cycle.step()
    swa_optimizer.step()
    swa_scheduler.step()
    ema.update_parameters(parts["student"])
    return total.item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    state = build()
    data = make_data(state[0])
    losses = []
    half = args.steps // 2
    for _ in range(half):
        losses.append(train_step(*state, data))
    parts, trained, optimizer, one_cycle, ema, swa_optimizer, swa_scheduler = state
    buffer = io.BytesIO()
    torch.save({"models": trained.state_dict(), "optimizer": optimizer.state_dict(),
                "one_cycle": one_cycle.state_dict(), "ema": ema.state_dict(),
                "swa_optimizer": swa_optimizer.state_dict(),
                "swa_scheduler": swa_scheduler.state_dict(), "rng": torch.get_rng_state(),
                "step": half}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    state = build()
    parts, trained, optimizer, one_cycle, ema, swa_optimizer, swa_scheduler = state
    swa_scheduler = SWALR(swa_optimizer, swa_lr=0.005, anneal_epochs=16,
                          anneal_strategy="linear")
    state = (parts, trained, optimizer, one_cycle, ema, swa_optimizer, swa_scheduler)
    trained.load_state_dict(saved["models"])
    optimizer.load_state_dict(saved["optimizer"])
    one_cycle.load_state_dict(saved["one_cycle"])
    ema.load_state_dict(saved["ema"])
    swa_optimizer.load_state_dict(saved["swa_optimizer"])
    swa_scheduler.load_state_dict(saved["swa_scheduler"])
    torch.set_rng_state(saved["rng"])
    for _ in range(saved["step"], args.steps):
        losses.append(train_step(*state, data))
    with torch.no_grad():
        ema_logits = ema(data["features"])
    report(losses, ema_loss=F.cross_entropy(ema_logits, data["labels"]).item(),
           swa_lr=swa_optimizer.param_groups[0]["lr"],
           one_cycle_lr=optimizer.param_groups[0]["lr"],
           pruned=float((parts["encoder"][2].weight == 0).sum()),
           orthogonality=(parts["mixer"].weight @ parts["mixer"].weight.T
                          - torch.eye(4)).abs().max().item() < 1e-5,
           sample_mean=TransformedDistribution(
               MultivariateNormal(torch.zeros(2), torch.eye(2)),
               [AffineCoupling(net, mask) for net, mask in
                zip(parts["flow"], [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])])])
           .sample((50,)).mean().item())


if __name__ == "__main__":
    main()
