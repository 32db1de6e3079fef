-- forget how far the label state has read events: the next label run rebuilds it from the remaining events
delete from label_state
