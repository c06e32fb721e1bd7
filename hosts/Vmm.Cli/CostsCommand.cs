using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Vmm.Hosting;

namespace Vmm.Cli;

/// <summary><c>vmm costs [--costs FILE.json]</c>: the cost table every modelled time comes from, with each figure's source (docs/costs.md).</summary>
internal static class CostsCommand
{
    public static Command Create(CliContext context)
    {
        var costs = FileOption();
        var command = new Command("costs",
            """
            Print the cost table: every counted event's modelled cost in nanoseconds and where the figure comes from
            ("[assumption]" marks an order of magnitude chosen for the model; docs/costs.md has the sources).
            With --costs FILE.json, the table as that file changes it.

            Examples:
              vmm costs
              vmm costs --costs mycosts.json
            """)
        {
            costs,
        };
        command.SetAction(parseResult =>
        {
            try
            {
                var overrides = Read(parseResult.GetValue(costs));
                var table = new Table().Border(context.OutConsole.Profile.Capabilities.Unicode ? TableBorder.Rounded : TableBorder.Ascii);
                table.AddColumn(new TableColumn(new Text("option")));
                table.AddColumn(new TableColumn(new Text("ns")).RightAligned());
                table.AddColumn(new TableColumn(new Text("event and source")));
                foreach (var option in VmmHost.CoreOptions.Where(o => o.Section == "cost"))
                {
                    var value = overrides.FirstOrDefault(o => o.Key == option.Key).Value;
                    table.AddRow(new Text(option.Key), new Text(value is null ? option.Default : $"{value} (default {option.Default})"), new Text(option.Description));
                }
                context.OutConsole.Write(table);
                return ExitCodes.Passed;
            }
            catch (ComparisonException e)
            {
                context.Error(e.Message);
                return ExitCodes.BadInput;
            }
        });
        return command;
    }

    public static Option<string?> FileOption() => new("--costs")
    {
        Description = "A JSON object of cost figures in nanoseconds, e.g. {\"tlbShootdown\": 3000} or {\"cost.tlbShootdown\": 3000}; see vmm costs.",
        HelpName = "file.json",
    };

    /// <summary>The file's figures as "cost.event" options; a <see cref="ComparisonException"/> names the file, the entry and the fix.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Read(string? path)
    {
        if (path is null) return [];
        var known = VmmHost.CoreOptions.Where(o => o.Section == "cost").Select(o => o.Key).ToList();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ComparisonException($"--costs: cannot read {path} ({e.Message})", e);
        }
        catch (JsonException e)
        {
            throw new ComparisonException($"--costs: {path}:{(e.LineNumber ?? 0) + 1}:{(e.BytePositionInLine ?? 0) + 1}: not valid JSON", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new ComparisonException($"--costs: {path}: expected an object of figures, e.g. {{\"tlbShootdown\": 3000}}");
            var figures = new List<KeyValuePair<string, string>>();
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                var key = entry.Name.StartsWith("cost.", StringComparison.Ordinal) ? entry.Name : "cost." + entry.Name;
                if (!known.Contains(key))
                    throw new ComparisonException($"--costs: {path}: unknown cost \"{entry.Name}\"{Hint(entry.Name, known)}; see vmm costs");
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetDouble(out var ns) || ns < 0)
                    throw new ComparisonException($"--costs: {path}: \"{entry.Name}\" is a number of nanoseconds, 0 or more");
                figures.Add(new(key, entry.Value.GetRawText()));
            }
            return figures;
        }
    }

    private static string Hint(string name, IEnumerable<string> known)
    {
        var bare = known.Select(k => k["cost.".Length..]).ToList();
        var close = bare.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
        return close is null ? "" : $" (did you mean \"{close}\"?)";
    }
}
