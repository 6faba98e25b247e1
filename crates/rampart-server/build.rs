//! `sqlx::migrate!` embeds the migrations when the crate compiles, and a new migration file
//! changes none of its sources: without this, a build after adding one would not run it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
