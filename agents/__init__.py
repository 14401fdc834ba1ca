"""One module per Faust agent, thin: take events, call models/ and streams/ logic, send results."""
