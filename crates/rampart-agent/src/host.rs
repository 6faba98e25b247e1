//! This machine's own host name: what audit results name as their target.

use anyhow::Context;

/// The OS host name: `/proc/sys/kernel/hostname`, else the `hostname` command.
pub fn os_hostname() -> anyhow::Result<String> {
    let from_proc = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|text| text.trim().to_owned())
        .filter(|name| !name.is_empty());
    if let Some(name) = from_proc {
        return Ok(name);
    }
    let output = std::process::Command::new("hostname")
        .output()
        .context("cannot read /proc/sys/kernel/hostname nor run `hostname`: pass --hostname")?;
    let name = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    anyhow::ensure!(
        output.status.success() && !name.is_empty(),
        "`hostname` gave no host name: pass --hostname"
    );
    Ok(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_os_host_name_is_one_word() {
        let name = super::os_hostname().unwrap();
        assert!(
            !name.is_empty() && !name.contains(char::is_whitespace),
            "{name:?}"
        );
    }
}
