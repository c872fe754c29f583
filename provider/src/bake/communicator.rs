//! How the provisioning script reaches the builder: SSM Run Command (`ssm`) or SSH (`ssh`).
//! Both run it the same way — the code tag as `$1` and in `CODE_TAG`, the environment exported,
//! output streamed to the provider log a line at a time, the exit code checked, and the last
//! lines quoted when it fails — so switching communicators changes how, never what.

use crate::aws::wait::WaitError;
use crate::aws::AwsError;

use super::ssh::SshError;

/// Lines of output quoted in the error when the script fails.
pub const TAIL_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("the provisioning script failed with exit code {code} (status {status}); last lines of its output:\n{tail}")]
    ScriptFailed {
        code: i32,
        status: String,
        tail: String,
    },
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Wait(#[from] WaitError<AwsError>),
    #[error(transparent)]
    Ssh(#[from] SshError),
}

impl ProvisionError {
    /// Terraform asked to stop: reported as an interrupt, not as a failure of the script.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            ProvisionError::Wait(WaitError::Cancelled { .. })
                | ProvisionError::Ssh(SshError::Cancelled)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Output arriving in chunks (SSH channel data): logged a complete line at a time, the last
/// [`TAIL_LINES`] lines of both streams kept, in arrival order, for the error message.
#[derive(Debug, Default)]
pub struct OutputLog {
    partial: [Vec<u8>; 2],
    tail: std::collections::VecDeque<String>,
    lines: usize,
}

impl OutputLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, stream: Stream, data: &[u8]) {
        let idx = stream as usize;
        self.partial[idx].extend_from_slice(data);
        while let Some(nl) = self.partial[idx].iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial[idx].drain(..=nl).collect();
            self.line(stream, &line[..line.len() - 1]);
        }
    }

    /// Logs what is left of unterminated lines.
    pub fn finish(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.partial[stream as usize]);
            if !rest.is_empty() {
                self.line(stream, &rest);
            }
        }
    }

    fn line(&mut self, stream: Stream, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        tracing::info!(stream = stream.name(), "script: {text}");
        self.lines += 1;
        self.tail.push_back(text.to_string());
        if self.tail.len() > TAIL_LINES {
            self.tail.pop_front();
        }
    }

    pub fn tail(&self) -> String {
        if self.tail.is_empty() {
            return "(no output)".to_string();
        }
        self.tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    pub fn line_count(&self) -> usize {
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_and_streams_interleave() {
        let mut log = OutputLog::new();
        log.push(Stream::Stdout, b"step 1\nste");
        log.push(Stream::Stderr, b"warn\r\n");
        log.push(Stream::Stdout, b"p 2\nno newline");
        log.finish();
        assert_eq!(log.tail(), "step 1\nwarn\nstep 2\nno newline");
        assert_eq!(log.line_count(), 4);
    }

    #[test]
    fn only_the_last_lines_are_kept() {
        let mut log = OutputLog::new();
        for i in 1..=30 {
            log.push(Stream::Stdout, format!("line {i}\n").as_bytes());
        }
        let t = log.tail();
        assert!(t.starts_with("line 11\n") && t.ends_with("line 30"), "{t}");
        assert_eq!(OutputLog::new().tail(), "(no output)");
    }
}
