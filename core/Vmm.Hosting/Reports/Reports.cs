using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting;

/// <summary>Builds the reports front ends see from the engine's results.</summary>
internal static class Reports
{
    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static ScenarioReport Of(ScenarioResult result) => new(
        result.File,
        result.Name,
        result.Passed,
        result.Steps.Select(Of).ToList(),
        result.Warnings,
        result.Kernel.ToString(),
        result.Components.OrderBy(c => c.Key).Select(c => new ComponentChoice(c.Key.Key(), c.Value)).ToList(),
        new ScenarioCosts(result.ModelledNanoseconds, result.Costs.Select(c => new CostCount(c.Key, c.Value)).ToList()));

    public static StepReport Of(StepResult step) => new(
        step.Index,
        step.Op,
        step.Expected is null ? null : Json(step.Expected.Json.WriteTo),
        step.Expected is null ? null : OutcomeText.Describe(step.Expected) + (step.DataNotChecked ? " (data not checked: contents-free)" : ""),
        Json(writer => OutcomeJson.Write(writer, step.Actual)),
        DescribeActual(step),
        step.Passed,
        step.Actual.Reason);

    /// <summary>The actual outcome; for `state`, only the fields the expectation names (all of them in the JSON).</summary>
    private static string DescribeActual(StepResult step)
    {
        if (step.Actual.Kind != OutcomeKind.State || step.Expected?.State is not { } named || step.Actual.State is not { } state)
            return OutcomeText.Describe(step.Actual);
        var shown = state.Where(p => named.Keys.Contains(p.Key, StringComparer.OrdinalIgnoreCase)).ToDictionary(p => p.Key, p => p.Value);
        return OutcomeText.Describe(Outcome.Inspected(shown));
    }

    private static string Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, Compact)) write(writer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
