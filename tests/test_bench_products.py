"""tools/bench_products.py compares forms of one product: each must compute that product, or the table compares
unequal work. And the form marked as FusedLSTM's must be the one the layer computes (checked by the layer's
equivalence tests in test_fused_lstm.py; here only that each product has exactly one)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "bench_products.py"


@pytest.fixture(scope="module")
def bench_products():
    spec = importlib.util.spec_from_file_location("bench_products", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_form_computes_its_product(bench_products):
    rng = np.random.default_rng(0)
    for role, (dims, forms) in bench_products.PRODUCTS.items():
        a, b, flops = bench_products.operands(dims, rows=2, units=3, rng=rng)
        assert flops == 2 * a.shape[0] * a.shape[1] * b.shape[1]
        for form in forms:
            result = np.asarray(form.product(*bench_products.form_inputs(form, a, b)))
            np.testing.assert_allclose(result.T if form.out_transposed else result, a @ b, rtol=1e-5, atol=1e-5,
                                       err_msg=f"{role}: {form.name}")
        assert sum(form.used for form in forms) == 1, role
