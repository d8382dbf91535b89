"""Sizes that depend on the dynamic axes: ``Dim``, a polynomial in the axes' sizes, and ``fit``,
which finds it from the sizes a model produced in runs with different axis sizes."""
import itertools
import math

from .errors import OnnxExporterError


class Dim:
    """A size as a polynomial with integer coefficients in named symbols (the dynamic axes):
    ``terms`` maps a sorted tuple of symbol names (a monomial; () is the constant) to its
    coefficient. Arithmetic with ints and Dims stays exact; a Dim without symbols is an int."""

    __slots__ = ("terms",)

    def __init__(self, terms):
        self.terms = {monomial: coefficient for monomial, coefficient in terms.items()
                      if coefficient}

    @staticmethod
    def symbol(name):
        return Dim({(name,): 1})

    @staticmethod
    def of(value):
        """``value`` as a Dim (ints become constants)."""
        return value if isinstance(value, Dim) else Dim({(): int(value)})

    def simplified(self):
        """This size as an int when no symbol is left in it."""
        if all(monomial == () for monomial in self.terms):
            return self.terms.get((), 0)
        return self

    def __add__(self, other):
        terms = dict(self.terms)
        for monomial, coefficient in Dim.of(other).terms.items():
            terms[monomial] = terms.get(monomial, 0) + coefficient
        return Dim(terms).simplified()

    __radd__ = __add__

    def __neg__(self):
        return Dim({monomial: -coefficient for monomial, coefficient in self.terms.items()})

    def __sub__(self, other):
        return self + (-Dim.of(other))

    def __rsub__(self, other):
        return Dim.of(other) - self

    def __mul__(self, other):
        terms = {}
        for (left, left_coefficient), (right, right_coefficient) in itertools.product(
                self.terms.items(), Dim.of(other).terms.items()):
            monomial = tuple(sorted(left + right))
            terms[monomial] = terms.get(monomial, 0) + left_coefficient * right_coefficient
        return Dim(terms).simplified()

    __rmul__ = __mul__

    def evaluate(self, sizes):
        """The value for the symbol sizes ``sizes`` (name -> int)."""
        return sum(coefficient * math.prod(sizes[name] for name in monomial)
                   for monomial, coefficient in self.terms.items())

    def _key(self):
        return tuple(sorted(self.terms.items()))

    def __eq__(self, other):
        if isinstance(other, Dim):
            return self._key() == other._key()
        return False

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        parts = []
        for monomial, coefficient in sorted(self.terms.items(), key=lambda item: (-len(item[0]),
                                                                                  item[0])):
            factors = list(monomial)
            if coefficient != 1 or not factors:
                factors.insert(0, str(coefficient))
            parts.append("*".join(factors))
        return " + ".join(parts).replace("+ -", "- ") or "0"

    __repr__ = __str__


def product(sizes):
    """The product of ints and Dims."""
    result = 1
    for size in sizes:
        result = result * size
    return result


class Axes:
    """The dynamic axes' symbols and the sizes each run of the model uses for them.

    Run 0 is the user's example. With symbols s_1..s_k, run number ``mask`` (1 to 2^k - 1)
    moves the symbols whose bits are set in ``mask`` by one step (one up, or one down from sizes
    of at least 4), which is enough to solve for a polynomial linear in each symbol; a last run
    moves every symbol by two steps and checks the fit (a size such as ``batch // 2`` fails it).
    """

    def __init__(self, base_sizes):
        self.names = list(base_sizes)
        self.base = dict(base_sizes)
        self.step = {name: (-1 if size >= 4 else 1) for name, size in self.base.items()}
        self.runs = [dict(self.base)]
        if self.names:
            for mask in range(1, 2 ** len(self.names)):
                self.runs.append({name: size + (self.step[name] if mask >> index & 1 else 0)
                                  for index, (name, size) in enumerate(self.base.items())})
            self.runs.append({name: size + 2 * self.step[name]
                              for name, size in self.base.items()})

    def fit(self, values, what):
        """The int or Dim that took ``values`` in the runs, or an Unknown (naming ``what``)
        when no polynomial linear in each symbol explains them."""
        first = values[0]
        if all(value == first for value in values):
            return first
        count = len(self.names)
        result = Dim({(): 0})
        # Moebius inversion over the subsets of moved symbols gives the coefficient of each
        # product of x_j = (s_j - base_j) / step_j: d_S = sum over U in S of (-1)^|S - U| q_U,
        # where q_U is the run that moved the symbols in U (run number U).
        for mask in range(2 ** count):
            coefficient = 0
            subset = mask
            while True:
                sign = -1 if bin(mask ^ subset).count("1") % 2 else 1
                coefficient += sign * values[subset]
                if subset == 0:
                    break
                subset = (subset - 1) & mask
            term = Dim.of(coefficient)
            for index, name in enumerate(self.names):
                if mask >> index & 1:
                    term = term * ((Dim.symbol(name) - self.base[name]) * self.step[name])
            result = result + term
        result = Dim.of(result)
        if any(result.evaluate(run) != value for run, value in zip(self.runs, values)):
            return Unknown(values, self.runs, what)
        return result.simplified()


class Unknown:
    """A size that changes with the dynamic axes in a way no Dim describes (``batch // 2``):
    harmless until a translation needs its value in the graph, where ``error`` explains."""

    __slots__ = ("values", "runs", "what")

    def __init__(self, values, runs, what):
        self.values = values
        self.runs = runs
        self.what = what

    def error(self):
        value, run = next((value, run) for value, run in zip(self.values, self.runs)
                          if value != self.values[0])
        sizes = ", ".join(f"{name}={size}" for name, size in run.items())
        return OnnxExporterError(
            f"ember.onnx.export: {self.what} is {self.values[0]} in the example but {value} "
            f"with {sizes}, not a sum of products of the dynamic axes' sizes (e.g. batch // 2); "
            f"compute it with ember ops or leave the axis static")

    def __repr__(self):
        return f"Unknown({self.what})"


def concrete(size, base):
    """The example's value of an int, Dim or Unknown (``base``: the symbols' example sizes)."""
    if isinstance(size, Dim):
        return size.evaluate(base)
    if isinstance(size, Unknown):
        return size.values[0]
    return size
