// @ts-check
// Small statistics for the reports.

/**
 * Ordinary least squares y = intercept + slope * x, with the slope's standard error and the residual deviation.
 * @param {number[]} xs @param {number[]} ys
 */
export function leastSquares(xs, ys) {
  const n = xs.length;
  if (n < 3) return { slope: NaN, intercept: NaN, slopeStdErr: NaN, residualStd: NaN };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? NaN) - mx;
    sxx += dx ** 2;
    sxy += dx * ((ys[i] ?? NaN) - my);
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += ((ys[i] ?? NaN) - intercept - slope * (xs[i] ?? NaN)) ** 2;
  const residualStd = Math.sqrt(sse / (n - 2));
  return { slope, intercept, slopeStdErr: residualStd / Math.sqrt(sxx), residualStd };
}
