"""Higher-order workloads, written once against a framework module ``fw`` (torch or ember):
a physics-informed network for -u'' = pi^2 sin(pi x) on [0, 1] with u(0) = u(1) = 0 (exact
solution sin(pi x)), and a Hessian-vector product over the parameters of an MLP.

tests/func/test_higher_order_training.py trains the same PINN in both frameworks and compares the losses.
"""
import math

import numpy as np

PINN_WIDTH = 20
HVP_LAYERS = (128, 256, 256, 10)  # 101,642 parameters


def build_pinn(fw, width=PINN_WIDTH):
    """The tanh MLP 1 -> width -> width -> 1."""
    return fw.nn.Sequential(fw.nn.Linear(1, width), fw.nn.Tanh(), fw.nn.Linear(width, width),
                            fw.nn.Tanh(), fw.nn.Linear(width, 1))


def pinn_problem(fw, points):
    """(collocation points that require grad, boundary points, the forcing pi^2 sin(pi x))."""
    grid = np.linspace(0.0, 1.0, points, dtype=np.float32).reshape(points, 1)
    x = fw.tensor(grid, requires_grad=True)
    boundary = fw.tensor(np.array([[0.0], [1.0]], dtype=np.float32))
    forcing = fw.tensor((math.pi ** 2 * np.sin(math.pi * grid)).astype(np.float32))
    return x, boundary, forcing


def pinn_loss(fw, model, x, boundary, forcing):
    """Mean squared residual of u'' + f at the collocation points plus u^2 at the boundary; u''
    comes from two differentiations that keep their graph."""
    u = model(x)
    (u_x,) = fw.autograd.grad(u.sum(), x, create_graph=True)
    (u_xx,) = fw.autograd.grad(u_x.sum(), x, create_graph=True)
    residual = u_xx + forcing
    return (residual * residual).mean() + (model(boundary) ** 2).mean()


def pinn_step(fw, model, optimizer, x, boundary, forcing):
    """One Adam step on the PINN loss; returns the loss before the step."""
    optimizer.zero_grad()
    loss = pinn_loss(fw, model, x, boundary, forcing)
    loss.backward()
    optimizer.step()
    return loss


def build_hvp_mlp(fw, layers=HVP_LAYERS):
    """A tanh MLP with the given layer widths."""
    modules = []
    for number, (width_in, width_out) in enumerate(zip(layers[:-1], layers[1:])):
        if number:
            modules.append(fw.nn.Tanh())
        modules.append(fw.nn.Linear(width_in, width_out))
    return fw.nn.Sequential(*modules)


def hessian_vector_product(fw, model, inputs, targets, vectors):
    """H v for the cross-entropy loss over the parameters: the gradient with its graph, then
    the gradient of its dot product with v (the double backward trick)."""
    parameters = list(model.parameters())
    loss = fw.nn.functional.cross_entropy(model(inputs), targets)
    grads = fw.autograd.grad(loss, parameters, create_graph=True)
    return fw.autograd.grad(grads, parameters, grad_outputs=vectors)
