//! A test Lambda function for `backend/lambda`: see `tributary_e2e::lambda_probe`.

fn main() {
    tributary_e2e::lambda_probe::run();
}
