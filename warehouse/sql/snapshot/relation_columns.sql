-- binds a relation without running it: fails when a view no longer resolves; {relation} is a quoted identifier
describe select * from {relation}
