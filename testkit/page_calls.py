"""Calling the chat page's Dash callbacks by hand, as its renderer does (POST /_dash-update-component)."""


def callback_request(app, changed, values, output=""):
    """The JSON body Dash's renderer sends when `changed` fires the callback (the one whose outputs include
    `output`, when several callbacks share that input)."""
    key, spec = next((k, v) for k, v in app.callback_map.items()
                     if changed in {f"{i['id']}.{i['property']}" for i in v["inputs"]} and output in k)

    def props(items):
        return [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                for i in items]

    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1))) for part in key.strip(".").split("...")
               if "." in part]
    return {"output": key, "outputs": outputs if len(outputs) != 1 else outputs[0],
            "inputs": props(spec["inputs"]), "state": props(spec["state"]), "changedPropIds": [changed]}
