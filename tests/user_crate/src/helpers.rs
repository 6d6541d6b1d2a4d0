/// The factor every price is scaled by.
pub fn scale(x: f64) -> f64 {
    x * 2.0
}
