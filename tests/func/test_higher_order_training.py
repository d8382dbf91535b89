"""Higher-order training against PyTorch from identical weights: a physics-informed network's
loss trajectory over 200 Adam steps, a WGAN-GP critic step and a MAML meta-gradient."""
import numpy as np
import pytest

import ember
from benchmarks import higher_order
from tests.func.helpers import requires_double_backward, twin_modules


@requires_double_backward("linear", "tanh", order=3)
def test_pinn_loss_trajectory_matches_torch_over_200_adam_steps(torch):
    ours, theirs = twin_modules(torch, higher_order.build_pinn)
    trajectories = []
    for fw, model in ((ember, ours), (torch, theirs)):
        problem = higher_order.pinn_problem(fw, 32)
        optimizer = fw.optim.Adam(model.parameters(), lr=1e-3)
        trajectories.append([higher_order.pinn_step(fw, model, optimizer, *problem).item()
                             for _ in range(200)])
    np.testing.assert_allclose(trajectories[0], trajectories[1], rtol=1e-4)
    assert trajectories[0][-1] < trajectories[0][0]


def _critic(fw):
    return fw.nn.Sequential(fw.nn.Linear(2, 16), fw.nn.Tanh(), fw.nn.Linear(16, 1))


@requires_double_backward("linear", "tanh")
def test_wgan_gp_critic_gradients_match_torch(torch):
    ours, theirs = twin_modules(torch, _critic)
    random = np.random.default_rng(0)
    real, fake = random.standard_normal((2, 8, 2)).astype(np.float32)
    mix = random.uniform(size=(8, 1)).astype(np.float32)
    gradients = []
    for fw, critic in ((ember, ours), (torch, theirs)):
        points = fw.tensor(mix * real + (1 - mix) * fake, requires_grad=True)
        (slopes,) = fw.autograd.grad(critic(points).sum(), points, create_graph=True)
        penalty = ((((slopes * slopes).sum(1)).sqrt() - 1) ** 2).mean()
        loss = critic(fw.tensor(fake)).mean() - critic(fw.tensor(real)).mean() + 10 * penalty
        loss.backward()
        gradients.append([parameter.grad.numpy() for parameter in critic.parameters()])
    for mine, theirs_ in zip(*gradients):
        np.testing.assert_allclose(mine, theirs_, rtol=1e-5, atol=1e-6)


def _regressor(fw):
    return fw.nn.Sequential(fw.nn.Linear(1, 16), fw.nn.Tanh(), fw.nn.Linear(16, 1))


@requires_double_backward("linear", "tanh", "mse_loss")
def test_maml_meta_gradient_matches_torch(torch):
    """One inner SGD step on a support set with create_graph, the query loss of the adapted
    parameters, and its gradient with respect to the initial parameters (second order)."""
    ours, theirs = twin_modules(torch, _regressor)
    random = np.random.default_rng(0)
    support_x, query_x = random.uniform(-3, 3, (2, 10, 1)).astype(np.float32)
    support_y, query_y = np.sin(support_x), np.sin(query_x + 0.5)
    meta_gradients = []
    for fw, model in ((ember, ours), (torch, theirs)):
        names = [name for name, _ in model.named_parameters()]
        params = [parameter for _, parameter in model.named_parameters()]

        def loss(values, x, y):
            prediction = fw.func.functional_call(model, dict(zip(names, values)),
                                                 (fw.tensor(x),))
            return fw.nn.functional.mse_loss(prediction, fw.tensor(y))
        grads = fw.autograd.grad(loss(params, support_x, support_y), params, create_graph=True)
        adapted = [value - 0.1 * gradient for value, gradient in zip(params, grads)]
        meta = fw.autograd.grad(loss(adapted, query_x, query_y), params)
        meta_gradients.append([value.numpy() for value in meta])
    for mine, theirs_ in zip(*meta_gradients):
        np.testing.assert_allclose(mine, theirs_, rtol=1e-5, atol=1e-6)


CONV_MODELS = {
    "reflect_conv_instance_norm": lambda fw: fw.nn.Sequential(
        fw.nn.Conv2d(1, 4, 3, padding=1, padding_mode="reflect"),
        fw.nn.InstanceNorm2d(4, affine=True), fw.nn.LeakyReLU(0.2),
        fw.nn.Conv2d(4, 4, 3, stride=2, padding=1), fw.nn.SiLU(), fw.nn.AvgPool2d(3),
        fw.nn.Flatten(), fw.nn.Linear(4, 1)),
    "conv_batch_norm_max_pool": lambda fw: fw.nn.Sequential(
        fw.nn.Conv2d(1, 3, 3, padding=1), fw.nn.BatchNorm2d(3), fw.nn.ELU(), fw.nn.MaxPool2d(2),
        fw.nn.Flatten(), fw.nn.Linear(27, 8), fw.nn.LayerNorm(8), fw.nn.GELU(),
        fw.nn.Linear(8, 1)),
}


def _gradient_penalty_step(fw, critic, real, fake, mix):
    points = (fw.tensor(mix) * fw.tensor(real) + (1 - fw.tensor(mix)) * fw.tensor(fake))
    points.requires_grad_(True)
    scores = critic(points)
    (slopes,) = fw.autograd.grad(scores, points, grad_outputs=fw.ones_like(scores),
                                 create_graph=True)
    penalty = ((slopes.reshape(slopes.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()
    loss = critic(fw.tensor(fake)).mean() - critic(fw.tensor(real)).mean() + 10 * penalty
    loss.backward()
    return [parameter.grad.numpy() for parameter in critic.parameters()]


def _maml_step(fw, model, support, query):
    names = [name for name, _ in model.named_parameters()]
    values = [parameter for _, parameter in model.named_parameters()]

    def loss(inputs, targets):
        prediction = fw.func.functional_call(model, dict(zip(names, values)), (fw.tensor(inputs),))
        return fw.nn.functional.mse_loss(prediction, fw.tensor(targets))
    for _ in range(2):
        grads = fw.autograd.grad(loss(*support), values, create_graph=True)
        values = [value - 0.1 * grad for value, grad in zip(values, grads)]
    loss(*query).backward()
    return [parameter.grad.numpy() for parameter in model.parameters()]


@pytest.mark.parametrize("name", list(CONV_MODELS))
def test_conv_wgan_gp_and_maml_parameter_gradients_match_torch(torch, name):
    """A gradient-penalty critic step and a two-step MAML meta-gradient of small conv models
    (float64): every parameter's .grad equals torch's."""
    random = np.random.default_rng(0)
    images = random.standard_normal((4, 4, 1, 6, 6))
    mix = random.uniform(size=(4, 1, 1, 1))
    targets = random.standard_normal((2, 4, 1))
    for step in ("wgan_gp", "maml"):
        ours, theirs = twin_modules(torch, CONV_MODELS[name])
        ours.double()
        theirs.double()
        if step == "wgan_gp":
            results = [_gradient_penalty_step(fw, model, images[0], images[1], mix)
                       for fw, model in ((ember, ours), (torch, theirs))]
        else:
            results = [_maml_step(fw, model, (images[2], targets[0]), (images[3], targets[1]))
                       for fw, model in ((ember, ours), (torch, theirs))]
        for mine, expected in zip(*results):
            np.testing.assert_allclose(mine, expected, rtol=1e-9, atol=1e-11, err_msg=step)
