"""Second-order MAML with meta-SGD on sinusoid regression, as in the torch.func tutorial: the
inner loop on ``functional_call`` with ``torch.func.grad``, mapped over a batch of tasks by
``vmap(in_dims=(None, None, 0, 0, 0, 0))``, learnable per-parameter inner learning rates, and
Adam on the meta-parameters through the inner loop's second derivatives. A final adaptation
with ``torch.autograd.grad(create_graph=True)`` on fast weights checks the same numbers without
vmap. Everything random comes from ``torch.manual_seed``."""
import argparse

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from common import report


def sample_tasks(count, points):
    amplitude = torch.rand(count, 1, 1) + 0.5
    phase = torch.rand(count, 1, 1) * 3.1416
    x_support = torch.rand(count, points, 1) * 10 - 5
    x_query = torch.rand(count, points, 1) * 10 - 5
    return (x_support, amplitude * torch.sin(x_support + phase),
            x_query, amplitude * torch.sin(x_query + phase))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(),
                          nn.Linear(40, 1))
    params = dict(model.named_parameters())
    learning_rates = {name: torch.full_like(value, 0.01, requires_grad=True)
                      for name, value in params.items()}
    optimizer = torch.optim.Adam(list(params.values()) + list(learning_rates.values()), lr=1e-2)

    def loss_of(weights, x, y):
        return F.mse_loss(functional_call(model, weights, (x,)), y)

    def adapted_loss(weights, rates, x_support, y_support, x_query, y_query):
        fast = weights
        for _ in range(2):
            gradients = grad(loss_of)(fast, x_support, y_support)
            fast = {name: fast[name] - rates[name] * gradients[name] for name in fast}
        return loss_of(fast, x_query, y_query)

    losses = []
    for _ in range(args.steps):
        tasks = sample_tasks(8, 10)
        per_task = vmap(adapted_loss, in_dims=(None, None, 0, 0, 0, 0))(
            params, learning_rates, *tasks)
        loss = per_task.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    x_support, y_support, x_query, y_query = [value[0] for value in sample_tasks(1, 10)]
    fast = dict(params)
    for _ in range(2):
        step_loss = loss_of(fast, x_support, y_support)
        gradients = torch.autograd.grad(step_loss, list(fast.values()), create_graph=True)
        fast = {name: value - learning_rates[name] * gradient
                for (name, value), gradient in zip(fast.items(), gradients)}
    query_loss = loss_of(fast, x_query, y_query)
    meta_gradients = torch.autograd.grad(query_loss, [params["0.weight"],
                                                      learning_rates["4.bias"]])
    report(losses, query_loss=query_loss.item(),
           meta_grad_norm=meta_gradients[0].norm().item(),
           rate_grad=meta_gradients[1].item(),
           worst_last_task=per_task.max().item(),
           mean_rate=torch.cat([rate.flatten() for rate in learning_rates.values()])
           .mean().item())


if __name__ == "__main__":
    main()
