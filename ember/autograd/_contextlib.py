"""One base for context managers that double as decorators (grad modes, module-mode helpers)."""

import abc
import functools
import inspect


class DecoratorContextManager(abc.ABC):
    """A context manager that also decorates functions, generators, coroutines, async generators.

    Subclasses implement ``__enter__``, ``__exit__`` and ``clone()``; every decorated call (and
    every generator step) runs under a fresh ``clone()``, so recursion and re-entrancy restore.
    """

    @abc.abstractmethod
    def __enter__(self):
        """Switch the mode on, remembering what it replaces."""

    @abc.abstractmethod
    def __exit__(self, exception_type, exception_value, traceback):
        """Restore what ``__enter__`` replaced; return a false value so exceptions propagate."""

    @abc.abstractmethod
    def clone(self):
        """Return a fresh, not yet entered manager with the same settings."""

    def __call__(self, function):
        """Decorate ``function`` so that it runs under this mode, step by step for generators."""
        name = type(self).__name__
        if inspect.isclass(function):
            raise RuntimeError(
                f"{name} cannot decorate a class ({function.__name__}): it is ambiguous whether "
                "only the constructor or every method should run under the mode; decorate the "
                "methods (for example __init__) instead"
            )
        if not callable(function):
            raise TypeError(
                f"{name} can decorate only functions, methods, generators and coroutines, "
                f"not {type(function).__name__}; use it as `with {name}(...):` for a block"
            )
        if inspect.isasyncgenfunction(function):
            return self._wrap_async_generator_function(function)
        if inspect.iscoroutinefunction(function):
            return self._wrap_coroutine_function(function)
        if inspect.isgeneratorfunction(function):
            return self._wrap_generator_function(function)
        return self._wrap_function(function)

    def _wrap_function(self, function):
        @functools.wraps(function)
        def function_under_mode(*args, **kwargs):
            with self.clone():
                return function(*args, **kwargs)

        return function_under_mode

    def _wrap_coroutine_function(self, function):
        # The mode is held across awaits; it stays private to the running asyncio task as long
        # as the subclass keeps its state in a ContextVar (each task runs in its own context copy).
        @functools.wraps(function)
        async def coroutine_under_mode(*args, **kwargs):
            with self.clone():
                return await function(*args, **kwargs)

        return coroutine_under_mode

    def _wrap_generator_function(self, function):
        # A generator shares its caller's context, so the mode is entered around each step into
        # the generator and the caller's state comes back at each yield.
        @functools.wraps(function)
        def generator_under_mode(*args, **kwargs):
            with self.clone():
                generator = function(*args, **kwargs)
            try:
                with self.clone():
                    response = generator.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self.clone():
                            generator.close()
                        raise
                    except BaseException as error:
                        with self.clone():
                            response = generator.throw(error)
                    else:
                        with self.clone():
                            response = generator.send(request)
            except StopIteration as stop:
                return stop.value

        return generator_under_mode

    def _wrap_async_generator_function(self, function):
        # Same per-step rule as for generators, for asend / athrow / aclose.
        @functools.wraps(function)
        async def async_generator_under_mode(*args, **kwargs):
            with self.clone():
                async_generator = function(*args, **kwargs)
            try:
                with self.clone():
                    response = await async_generator.asend(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self.clone():
                            await async_generator.aclose()
                        raise
                    except BaseException as error:
                        with self.clone():
                            response = await async_generator.athrow(error)
                    else:
                        with self.clone():
                            response = await async_generator.asend(request)
            except StopAsyncIteration:
                return

        return async_generator_under_mode
