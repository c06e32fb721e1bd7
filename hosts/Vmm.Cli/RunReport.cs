using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;

namespace Vmm.Cli;

/// <summary>How <c>vmm run</c> shows results: a table of steps per scenario and a summary line, or one JSON document.</summary>
internal static class RunReport
{
    /// <summary>
    /// A line per scenario (step tables for failing ones, or all when <paramref name="allTables"/>), then the summary.
    /// Every file-derived string is rendered as <see cref="Text"/>, never parsed as markup.
    /// </summary>
    public static void WriteTables(IAnsiConsole console, IReadOnlyList<ScenarioResult> results, RunTally tally, bool allTables = true)
    {
        var unicode = console.Profile.Capabilities.Unicode;
        var passMark = unicode ? "✓" : "ok";
        var failMark = unicode ? "✗" : "FAIL";
        var dim = new Style(decoration: Decoration.Dim);
        foreach (var result in results)
        {
            var colour = result.Passed ? Color.Green : Color.Red;
            console.Write(new Paragraph()
                .Append(result.Passed ? passMark : failMark, new Style(colour, decoration: Decoration.Bold))
                .Append(" ")
                .Append(result.Name, new Style(decoration: Decoration.Bold))
                .Append(" ")
                .Append($"({result.File}; {Components(result)})", dim));
            console.WriteLine();
            if (result.Passed && !allTables) continue;
            var table = new Table().Border(unicode ? TableBorder.Rounded : TableBorder.Ascii);
            table.AddColumn(new TableColumn("#").RightAligned());
            table.AddColumn("op");
            table.AddColumn("expected");
            table.AddColumn("actual");
            table.AddColumn(new TableColumn("").Centered());
            var red = new Style(Color.Red);
            foreach (var step in result.Steps)
            {
                var style = step.Passed ? Style.Plain : red;
                table.AddRow(
                    new Text(step.Index.ToString(CultureInfo.InvariantCulture), style),
                    new Text(step.Op, style),
                    new Text(step.Expected is null ? "-" : OutcomeText.Describe(step.Expected), style),
                    new Text(DescribeActual(step), style),
                    new Text(step.Passed ? passMark : failMark, step.Passed ? new Style(Color.Green) : new Style(Color.Red, decoration: Decoration.Bold)));
            }
            console.Write(table);
            foreach (var warning in result.Warnings)
            {
                console.Write(new Paragraph().Append("  ").Append("warning:", new Style(Color.Yellow)).Append(" " + warning));
                console.WriteLine();
            }
            console.WriteLine();
        }

        console.Write(new Text(tally.ToString(), new Style(tally.AllPassed ? Color.Green : Color.Red)));
        console.WriteLine();
    }

    /// <summary>The --json document: "scenarios" (the contract), then "errors" (bad input) and "timedOut" (--timeout) when there are any.</summary>
    public static void WriteJson(TextWriter output, IReadOnlyList<ScenarioResult> results, IReadOnlyList<ScenarioException> errors, IReadOnlyList<TimedOut>? timedOut = null)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("scenarios");
            foreach (var result in results) WriteScenario(writer, result);
            writer.WriteEndArray();
            if (errors.Count > 0)
            {
                writer.WriteStartArray("errors");
                foreach (var error in errors)
                {
                    writer.WriteStartObject();
                    writer.WriteString("file", error.Location.File);
                    writer.WriteNumber("line", error.Location.Line);
                    writer.WriteNumber("column", error.Location.Column);
                    writer.WriteString("message", error.Message);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            if (timedOut is { Count: > 0 })
            {
                writer.WriteStartArray("timedOut");
                foreach (var stopped in timedOut)
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

    private static void WriteScenario(Utf8JsonWriter writer, ScenarioResult result)
    {
        writer.WriteStartObject();
        writer.WriteString("file", result.File);
        writer.WriteString("name", result.Name);
        writer.WriteBoolean("passed", result.Passed);
        writer.WriteStartArray("steps");
        foreach (var step in result.Steps)
        {
            writer.WriteStartObject();
            writer.WriteNumber("index", step.Index);
            writer.WriteString("op", step.Op);
            writer.WritePropertyName("expected");
            if (step.Expected is null) writer.WriteNullValue();
            else step.Expected.Json.WriteTo(writer);
            writer.WritePropertyName("actual");
            OutcomeJson.Write(writer, step.Actual);
            writer.WriteBoolean("passed", step.Passed);
            if (step.Actual.Reason is { } reason) writer.WriteString("reason", reason);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteString("kernel", result.Kernel.ToString());
        writer.WriteStartObject("components");
        foreach (var (kind, name) in result.Components.OrderBy(c => c.Key)) writer.WriteString(kind.Key(), name);
        writer.WriteEndObject();
        writer.WriteStartArray("warnings");
        foreach (var warning in result.Warnings) writer.WriteStringValue(warning);
        writer.WriteEndArray();
        writer.WriteStartObject("costs");
        writer.WriteNumber("modelledNs", result.ModelledNanoseconds);
        writer.WriteStartObject("counts");
        foreach (var (kind, count) in result.Costs) writer.WriteNumber(kind, count);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>The actual outcome; for `state`, only the fields the expectation names (all of them in --json).</summary>
    private static string DescribeActual(StepResult step)
    {
        if (step.Actual.Kind != OutcomeKind.State || step.Expected?.State is not { } named || step.Actual.State is not { } state)
            return OutcomeText.Describe(step.Actual);
        var shown = state.Where(p => named.Keys.Contains(p.Key, StringComparer.OrdinalIgnoreCase)).ToDictionary(p => p.Key, p => p.Value);
        return OutcomeText.Describe(Outcome.Inspected(shown));
    }

    private static string Components(ScenarioResult result) =>
        string.Join(", ", result.Components.OrderBy(c => c.Key).Select(c => $"{c.Key.Key()} {c.Value}")) + $", kernel {result.Kernel}";
}

/// <summary>How a run's files ended; the summary line is "N scenarios, P passed, F failed" plus each other count that is not zero.</summary>
internal sealed record RunTally(int Passed, int Failed, int Invalid, int TimedOut, int InternalErrors)
{
    public int Total => Passed + Failed + Invalid + TimedOut + InternalErrors;

    public bool AllPassed => Passed == Total;

    public override string ToString()
    {
        var text = new StringBuilder($"{Total} scenarios, {Passed} passed, {Failed} failed");
        if (Invalid > 0) text.Append(CultureInfo.InvariantCulture, $", {Invalid} invalid");
        if (TimedOut > 0) text.Append(CultureInfo.InvariantCulture, $", {TimedOut} timed out");
        if (InternalErrors > 0) text.Append(CultureInfo.InvariantCulture, $", {InternalErrors} internal {(InternalErrors == 1 ? "error" : "errors")}");
        return text.ToString();
    }
}

/// <summary>A scenario that <c>--timeout</c> stopped after <paramref name="StepsDone"/> steps.</summary>
internal sealed record TimedOut(string File, string Name, TimeSpan Limit, int StepsDone, string Message);
