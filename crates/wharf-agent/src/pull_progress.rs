//! Adds up Docker's per-layer pull progress into one report per container,
//! the shape the server is told about while an image is pulled.

use std::collections::BTreeMap;

use wharf_model::agent::PullProgressReport;

use crate::runtime::PullProgress;

/// One layer as the pull has seen it.
#[derive(Debug, Clone, Default)]
struct Layer {
    current: u64,
    total: Option<u64>,
    done: bool,
}

/// The layers of one pull and how far each has come.
#[derive(Debug, Clone, Default)]
pub struct PullTally {
    layers: BTreeMap<String, Layer>,
}

impl PullTally {
    /// Takes in one line of Docker's progress.
    pub fn apply(&mut self, p: &PullProgress) {
        let status = p.status.as_str();
        // Lines about the image as a whole, not one layer.
        if p.layer.is_empty()
            || status.starts_with("Pulling from")
            || status.starts_with("Digest")
            || status.starts_with("Status")
        {
            return;
        }
        let layer = self.layers.entry(p.layer.clone()).or_default();
        match status {
            "Downloading" => {
                if let Some((current, total)) = p.bytes {
                    layer.current = current;
                    layer.total = (total > 0).then_some(total);
                }
            }
            // The download is over once a layer is verified or extracted.
            "Verifying Checksum" | "Download complete" | "Extracting" | "Pull complete"
            | "Already exists" => {
                layer.done = true;
                // A download that ends before Docker's first progress update
                // shows no `Downloading` line with bytes; extraction reads the
                // same compressed bytes, and its total is the layer's size.
                if status == "Extracting" && layer.total.is_none() {
                    layer.total = p.bytes.map(|(_, total)| total).filter(|&t| t > 0);
                }
                if let Some(total) = layer.total {
                    layer.current = total;
                }
            }
            _ => {}
        }
    }

    /// The report for a container's pull so far.
    pub fn report(
        &self,
        task_arn: &str,
        container: &str,
        image: &str,
        done: bool,
    ) -> PullProgressReport {
        let known = self.layers.values().filter_map(|l| l.total.map(|t| (l.current.min(t), t)));
        let (current_bytes, total_bytes) = known.fold((0, 0), |(c, t), (lc, lt)| (c + lc, t + lt));
        PullProgressReport {
            task_arn: task_arn.to_owned(),
            container: container.to_owned(),
            image: image.to_owned(),
            layers: u32::try_from(self.layers.len()).unwrap_or(u32::MAX),
            layers_done: u32::try_from(self.layers.values().filter(|l| l.done).count())
                .unwrap_or(u32::MAX),
            current_bytes,
            total_bytes,
            done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(layer: &str, status: &str, bytes: Option<(u64, u64)>) -> PullProgress {
        PullProgress { layer: layer.into(), status: status.into(), bytes }
    }

    #[test]
    fn adds_up_layers_as_docker_reports_them() {
        let mut tally = PullTally::default();
        for p in [
            line("1", "Pulling from wharf-test/busybox", None),
            line("aaa", "Pulling fs layer", None),
            line("bbb", "Already exists", None),
            line("aaa", "Downloading", Some((100, 1000))),
            line("ccc", "Downloading", Some((50, 500))),
        ] {
            tally.apply(&p);
        }
        let r = tally.report("arn:t", "web", "img", false);
        assert_eq!((r.layers, r.layers_done), (3, 1));
        assert_eq!((r.current_bytes, r.total_bytes), (150, 1500));
        tally.apply(&line("aaa", "Download complete", None));
        tally.apply(&line("ccc", "Pull complete", None));
        tally.apply(&line("", "Digest: sha256:00", None));
        let r = tally.report("arn:t", "web", "img", true);
        assert_eq!((r.layers, r.layers_done), (3, 3));
        assert_eq!((r.current_bytes, r.total_bytes), (1500, 1500));
        assert!(r.done);
        assert_eq!((r.task_arn.as_str(), r.container.as_str()), ("arn:t", "web"));
    }

    #[test]
    fn a_layer_downloaded_between_progress_updates_counts_its_extracted_size() {
        // A small layer on a fast registry: no `Downloading` line with bytes.
        let mut tally = PullTally::default();
        for p in [
            line("ddd", "Pulling fs layer", None),
            line("ddd", "Verifying Checksum", None),
            line("ddd", "Download complete", None),
            line("ddd", "Extracting", Some((32_768, 524_800))),
            line("ddd", "Extracting", Some((524_800, 524_800))),
            line("ddd", "Pull complete", None),
            line("eee", "Already exists", None),
        ] {
            tally.apply(&p);
        }
        let r = tally.report("arn:t", "web", "img", true);
        assert_eq!((r.layers, r.layers_done), (2, 2));
        assert_eq!((r.current_bytes, r.total_bytes), (524_800, 524_800));
    }
}
