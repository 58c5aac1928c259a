fn main() {
    println!("corral {}", env!("CARGO_PKG_VERSION"));
}
