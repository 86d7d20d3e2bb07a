"""YAML presets of the learner (ToMacVF appendix Tables 2-4); read with asyncmarl.learner.preset."""
