"""Layout pieces; each module has a render() returning a component tree."""
