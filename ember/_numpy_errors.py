"""NumPy's floating-point warnings raised in ember's own code are not shown: PyTorch computes
inf and NaN without a word (``torch.tensor([3e38]) * 10`` is inf, silently), so the same program
under ember should not print NumPy's "overflow encountered in multiply". Only warnings whose
origin is an ember module are filtered; a user's own NumPy calls keep theirs."""
import warnings

# NumPy's texts for its floating-point error categories (np.errstate's over, invalid, divide,
# under)
NUMPY_MESSAGES = r"(overflow|invalid value|divide by zero|underflow) encountered"


def silence_in_ember():
    """Add the warnings filter (run by ``import ember``)."""
    warnings.filterwarnings("ignore", message=NUMPY_MESSAGES, category=RuntimeWarning,
                            module=r"ember\.")
