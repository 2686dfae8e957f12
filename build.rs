// The commit (COMMIT_ID) that `cctv` records in its evidence manifests, as
// the plugin records it in its version.
fn main() {
    gst_plugin_version_helper::info()
}
