//! What a G-code file says about itself that a shop floor shows: where each layer begins and
//! how much material the slicer says it uses.
//!
//! OctoPrint's `completion` and Moonraker's `virtual_sdcard.progress` are the share of the
//! file's bytes the printer has read, so the byte offset where each layer begins turns a
//! host's progress into the layer it prints — for any host, without a plugin on it.

use amsp_mesh::motion::LayerMarker;

/// Read once when a job is submitted and when it starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GcodeFacts {
    /// Byte offset of each layer's first line, ascending.
    pub layer_starts: Vec<u64>,
    /// Grams of filament, from the slicer's `; filament used [g] = …` line (amsp and
    /// PrusaSlicer write it; several extruders' amounts are added).
    pub filament_g: Option<f32>,
}

impl GcodeFacts {
    /// Reads `gcode`: one pass, no allocation per line.
    pub fn read(gcode: &[u8]) -> Self {
        let mut facts = Self::default();
        let mut marker = LayerMarker::default();
        let mut offset = 0u64;
        for line in gcode.split(|&b| b == b'\n') {
            if marker.starts_layer(line) {
                facts.layer_starts.push(offset);
            } else if let Some(grams) = filament_grams(line) {
                facts.filament_g = Some(grams);
            }
            offset += line.len() as u64 + 1;
        }
        facts
    }

    /// Layers in the file.
    pub fn layers(&self) -> u32 {
        u32::try_from(self.layer_starts.len()).unwrap_or(u32::MAX)
    }
}

/// The layer (1-based) a printer that has read `share` (0–1) of a `bytes`-long file prints;
/// `None` before the first layer or when the file marks no layers.
pub fn layer_at(layer_starts: &[u64], bytes: u64, share: f64) -> Option<u32> {
    if !share.is_finite() {
        return None;
    }
    let position = (share.clamp(0.0, 1.0) * bytes as f64) as u64;
    let layer = layer_starts.partition_point(|&start| start <= position);
    u32::try_from(layer).ok().filter(|&l| l > 0)
}

/// `; filament used [g] = 12.3` or `= 1.2, 3.4` → the sum; other lines → None.
fn filament_grams(line: &[u8]) -> Option<f32> {
    let rest = line.strip_prefix(b"; filament used [g]")?;
    let text = std::str::from_utf8(rest).ok()?.trim_start().strip_prefix('=')?;
    let mut sum = 0.0f32;
    for part in text.split(',') {
        let g: f32 = part.trim().parse().ok()?;
        if !(g.is_finite() && g >= 0.0) {
            return None;
        }
        sum += g;
    }
    // A sum of huge figures is no weight at all.
    sum.is_finite().then_some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_and_grams_of_an_amsp_or_prusaslicer_file() {
        let gcode = b"G28\n;LAYER_CHANGE\n;Z:0.2\n;LAYER:0\nG1 X1 E1\n\
                      ;LAYER_CHANGE\n;Z:0.4\n;LAYER:1\nG1 X2 E2\n\
                      ; filament used [g] = 1.25, 0.50\n";
        let facts = GcodeFacts::read(gcode);
        assert_eq!(facts.layers(), 2);
        assert_eq!(facts.layer_starts, vec![4, 43]);
        assert_eq!(facts.filament_g, Some(1.75));
        let bytes = gcode.len() as u64;
        assert_eq!(layer_at(&facts.layer_starts, bytes, 0.0), None, "start G-code");
        assert_eq!(layer_at(&facts.layer_starts, bytes, 0.2), Some(1));
        assert_eq!(layer_at(&facts.layer_starts, bytes, 0.9), Some(2));
        assert_eq!(layer_at(&facts.layer_starts, bytes, f64::NAN), None);
    }

    #[test]
    fn a_cura_file_counts_its_layer_lines_and_a_bare_file_has_none() {
        let cura = b";LAYER:0\nG1 X1\n;LAYER:1\nG1 X2\n;LAYER:2\n;Filament used: 1.2m\n";
        let facts = GcodeFacts::read(cura);
        assert_eq!(facts.layers(), 3);
        assert_eq!(facts.filament_g, None, "Cura states metres, not grams");
        let bare = GcodeFacts::read(b"G1 X1\n; filament used [g] = lots\n");
        let huge = GcodeFacts::read(b"; filament used [g] = 3e38, 3e38\n");
        assert_eq!(huge.filament_g, None, "an overflowing sum is refused");
        assert_eq!(bare, GcodeFacts::default());
    }
}
