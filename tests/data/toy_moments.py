"""Reference moments of the toy 2-D densities, for tests/data/toy2d_test.cpp.

    /usr/bin/python3 tests/data/toy_moments.py

Draws 2,000,000 points of each density with FFJORD's lib/toy_data.py formulas
(sklearn's make_circles / make_swiss_roll written out in numpy; moons as
sample_moons in the reference benchmark cfm_ref.py) and prints, per density,
the mean and std of each coordinate and the mean radius, with 5 standard
errors of each statistic for a sample of 20,000 points as the test tolerance.
"""
import numpy as np

N = 2_000_000
N_TEST = 20_000
rng = np.random.RandomState(0)


def circle(m, radius):
    a = np.linspace(0, 2 * np.pi, m, endpoint=False)
    return np.stack([np.cos(a), np.sin(a)], 1) * radius


def moons(n):
    n_out = n // 2
    a = rng.rand(n) * np.pi
    ao, ai = a[:n_out], a[n_out:]
    outer = np.stack([np.cos(ao), np.sin(ao)], 1)
    inner = np.stack([1 - np.cos(ai), 0.5 - np.sin(ai)], 1)
    x = np.concatenate([outer, inner]) + 0.1 * rng.randn(n, 2)
    return (x - np.array([0.5, 0.25])) * 2


def eight_gaussians(n):
    s = 1 / np.sqrt(2)
    c = 4 * np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)])
    return (rng.randn(n, 2) * 0.5 + c[rng.randint(8, size=n)]) / 1.414


def checkerboard(n):
    x1 = rng.rand(n) * 4 - 2
    x2 = rng.rand(n) - rng.randint(0, 2, n) * 2 + (np.floor(x1) % 2)
    return np.stack([x1, x2], 1) * 2


def circles(n):
    x = np.concatenate([circle(n // 2, 1.0), circle(n - n // 2, 0.5)])
    return (x + rng.normal(scale=0.08, size=x.shape)) * 3


def rings(n):
    q = n // 4
    x = np.concatenate([circle(q, 1), circle(q, 0.75), circle(q, 0.5), circle(n - 3 * q, 0.25)])
    return x * 3 + rng.normal(scale=0.08, size=x.shape)


def pinwheel(n):
    per = n // 5
    f = rng.randn(5 * per, 2) * np.array([0.3, 0.1])
    f[:, 0] += 1
    labels = np.repeat(np.arange(5), per)
    ang = np.linspace(0, 2 * np.pi, 5, endpoint=False)[labels] + 0.25 * np.exp(f[:, 0])
    rot = np.reshape(np.stack([np.cos(ang), -np.sin(ang), np.sin(ang), np.cos(ang)]).T, (-1, 2, 2))
    return 2 * np.einsum("ti,tij->tj", f, rot)


def two_spirals(n):
    h = n // 2
    t = np.sqrt(rng.rand(h, 1)) * 540 * (2 * np.pi) / 360
    dx = -np.cos(t) * t + rng.rand(h, 1) * 0.5
    dy = np.sin(t) * t + rng.rand(h, 1) * 0.5
    x = np.vstack((np.hstack((dx, dy)), np.hstack((-dx, -dy)))) / 3
    return x + rng.randn(*x.shape) * 0.1


def swissroll(n):
    t = 1.5 * np.pi * (1 + 2 * rng.rand(n))
    x = np.stack([t * np.cos(t), t * np.sin(t)], 1) + rng.randn(n, 2)
    return x / 5


def gaussian_shift(n):
    return rng.randn(n, 2) + np.array([2.0, 0.0])


DENSITIES = [("moons", moons), ("8gaussians", eight_gaussians), ("checkerboard", checkerboard),
             ("circles", circles), ("pinwheel", pinwheel), ("2spirals", two_spirals),
             ("swissroll", swissroll), ("rings", rings), ("gaussian-shift", gaussian_shift)]

for name, draw in DENSITIES:
    x = draw(N)
    r = np.linalg.norm(x, axis=1)
    mean, std = x.mean(0), x.std(0)
    # Standard errors at N_TEST points: of a mean sd / sqrt(n); of a std
    # sd((x - mu)^2) / (2 std sqrt(n)) (delta method).
    se_mean = std / np.sqrt(N_TEST)
    se_std = ((x - mean) ** 2).std(0) / (2 * std * np.sqrt(N_TEST))
    se_r = r.std() / np.sqrt(N_TEST)
    values = [mean[0], mean[1], std[0], std[1], r.mean()]
    tols = [5 * se_mean[0], 5 * se_mean[1], 5 * se_std[0], 5 * se_std[1], 5 * se_r]
    print('{"%s", {%s}, {%s}},' % (name, ", ".join("%.4f" % v for v in values),
                                   ", ".join("%.4f" % t for t in tols)))
