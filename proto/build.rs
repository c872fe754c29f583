//! Compiles the protocol definitions with protox (pure Rust), so building needs no system `protoc`.

fn main() {
    let files = [
        "proto/tfplugin6.proto",
        "proto/grpc_controller.proto",
        "proto/grpc_stdio.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"]).expect("protocol definitions must compile");
    // `google.protobuf.Timestamp` is generated into this crate (module `google::protobuf`)
    // instead of being mapped to `prost_types`, which is not a dependency; the request of
    // `plugin.GRPCStdio/StreamStdio`, `google.protobuf.Empty`, stays the unit type `()`.
    tonic_prost_build::configure()
        .compile_well_known_types(true)
        .extern_path(".google.protobuf.Empty", "()")
        .build_client(true)
        .build_server(true)
        .generate_default_stubs(true)
        .compile_fds(fds)
        .expect("generated protocol code");
}
