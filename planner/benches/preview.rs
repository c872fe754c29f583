// placeholder until the preview benchmark lands
fn main() {}
