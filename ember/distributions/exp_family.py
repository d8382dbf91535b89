"""``torch.distributions.ExponentialFamily``: densities exp(<t(x), theta> - F(theta) + k(x)),
whose entropy and same-family KL follow from the log normaliser F by its gradient (a Bregman
divergence)."""
from ..autograd import grad
from .distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """A family given by ``_natural_params`` (theta), ``_log_normalizer(*theta)`` (F) and
    ``_mean_carrier_measure`` (E[k(x)])."""

    @property
    def _natural_params(self):
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError

    def _log_normalizer_and_gradients(self):
        """F at detached natural parameters, the parameters, and dF/dtheta (differentiable)."""
        natural_params = [parameter.detach().requires_grad_() for parameter in
                          self._natural_params]
        log_normalizer = self._log_normalizer(*natural_params)
        gradients = grad(log_normalizer.sum(), natural_params, create_graph=True)
        return log_normalizer, natural_params, gradients

    def entropy(self):
        # H = F(theta) - <theta, dF/dtheta> - E[k(x)]
        result = -self._mean_carrier_measure
        log_normalizer, natural_params, gradients = self._log_normalizer_and_gradients()
        result = result + log_normalizer
        for parameter, gradient in zip(natural_params, gradients):
            result = result - (parameter * gradient).reshape(tuple(self._batch_shape)
                                                            + (-1,)).sum(-1)
        return result
