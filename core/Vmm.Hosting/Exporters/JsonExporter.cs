using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Vmm.Hosting.Exporters;

/// <summary>
/// The <c>vmm run --json</c> document: "scenarios" (the contract's result shape), then "errors" (bad input) and
/// "timedOut" (stopped by the time limit) when there are any.
/// </summary>
public sealed class JsonExporter : IRunExporter
{
    public static readonly JsonExporter Default = new();

    public string Name => "json";

    public string FileExtension => "json";

    public void Export(RunReport report, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(output);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("scenarios");
            foreach (var scenario in report.Scenarios) WriteScenario(writer, scenario);
            writer.WriteEndArray();
            if (report.Errors.Count > 0)
            {
                writer.WriteStartArray("errors");
                foreach (var error in report.Errors)
                {
                    writer.WriteStartObject();
                    writer.WriteString("file", error.File);
                    writer.WriteNumber("line", error.Line);
                    writer.WriteNumber("column", error.Column);
                    writer.WriteString("message", error.Message);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            if (report.TimedOut.Count > 0)
            {
                writer.WriteStartArray("timedOut");
                foreach (var stopped in report.TimedOut)
                {
                    writer.WriteStartObject();
                    writer.WriteString("file", stopped.File);
                    writer.WriteString("name", stopped.Name);
                    writer.WriteNumber("seconds", stopped.Limit.TotalSeconds);
                    writer.WriteNumber("stepsDone", stopped.StepsDone);
                    writer.WriteString("message", stopped.Message);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        output.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static void WriteScenario(Utf8JsonWriter writer, ScenarioReport scenario)
    {
        writer.WriteStartObject();
        writer.WriteString("file", scenario.File);
        writer.WriteString("name", scenario.Name);
        writer.WriteBoolean("passed", scenario.Passed);
        writer.WriteStartArray("steps");
        foreach (var step in scenario.Steps)
        {
            writer.WriteStartObject();
            writer.WriteNumber("index", step.Index);
            writer.WriteString("op", step.Op);
            writer.WritePropertyName("expected");
            if (step.ExpectedJson is null) writer.WriteNullValue();
            else WriteJson(writer, step.ExpectedJson);
            writer.WritePropertyName("actual");
            WriteJson(writer, step.ActualJson);
            writer.WriteBoolean("passed", step.Passed);
            if (step.Reason is { } reason) writer.WriteString("reason", reason);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteString("kernel", scenario.Kernel);
        writer.WriteStartObject("components");
        foreach (var component in scenario.Components) writer.WriteString(component.Kind, component.Name);
        writer.WriteEndObject();
        writer.WriteStartArray("warnings");
        foreach (var warning in scenario.Warnings) writer.WriteStringValue(warning);
        writer.WriteEndArray();
        writer.WriteStartObject("costs");
        writer.WriteNumber("modelledNs", scenario.Costs.ModelledNanoseconds);
        writer.WriteStartObject("counts");
        foreach (var count in scenario.Costs.Counts) writer.WriteNumber(count.Kind, count.Count);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>Re-indents an outcome's compact JSON into the document.</summary>
    private static void WriteJson(Utf8JsonWriter writer, string json)
    {
        using var document = JsonDocument.Parse(json);
        document.RootElement.WriteTo(writer);
    }
}
