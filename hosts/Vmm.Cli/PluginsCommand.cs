using System.CommandLine;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;
using Vmm.Abstractions;
using Vmm.Hosting;

namespace Vmm.Cli;

/// <summary><c>vmm plugins [--json] [--plugins FILE]</c>: the components every plugin registers, with their options and defaults.</summary>
internal static class PluginsCommand
{
    public static Option<string?> PluginsOption() => new("--plugins")
    {
        Description = "The plugins.json to load (default: $VMM_PLUGINS, else the nearest plugins.json above the current directory or the vmm program).",
        HelpName = "file",
    };

    public static Command Create(CliContext context)
    {
        var json = new Option<bool>("--json") { Description = "Write the components as one JSON document to stdout." };
        var plugins = PluginsOption();
        var command = new Command("plugins",
            """
            List the components the plugins register (kind, name, supplying plugin, description) and their options
            with defaults; a scenario picks components under "components" and sets options under "options".

            Example:
              vmm plugins --plugins ./plugins.json
            """)
        {
            json, plugins,
        };
        command.SetAction(parseResult => Execute(context, parseResult.GetValue(json), parseResult.GetValue(plugins)));
        return command;
    }

    private static int Execute(CliContext context, bool json, string? pluginsFile)
    {
        try
        {
            using var host = VmmHost.Load(PluginsLocator.FindAll(pluginsFile), context.ConfigureServices);
            if (json) WriteJson(context.Stdout, host);
            else WriteTables(context.OutConsole, host);
            return ExitCodes.Passed;
        }
        catch (PluginLoadException e)
        {
            context.Error(e.Message);
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            return context.InternalError(e);
        }
    }

    private static void WriteTables(IAnsiConsole console, VmmHost host)
    {
        var unicode = console.Profile.Capabilities.Unicode;
        var border = unicode ? TableBorder.Rounded : TableBorder.Ascii;
        console.Write(new Paragraph().Append("plugins", new Style(decoration: Decoration.Bold)).Append($" from {string.Join(" and ", host.PluginsFiles)}:"));
        console.WriteLine();
        foreach (var plugin in host.Plugins)
        {
            console.Write(new Paragraph().Append($"  {plugin.Name} ").Append(plugin.AssemblyPath, new Style(decoration: Decoration.Dim)));
            console.WriteLine();
        }
        console.WriteLine();

        var components = new Table().Border(border).Title("components");
        components.AddColumns("kind", "name", "plugin", "description");
        foreach (var component in host.Components)
            components.AddRow(Text(component.Kind.Key()), Text(component.Name), Text(component.Supplier), Text(component.Description));
        console.Write(components);

        var withOptions = host.Components.Where(c => c.Options.Count > 0).ToList();
        if (withOptions.Count > 0)
        {
            var options = new Table().Border(border).Title("component options");
            options.AddColumns("component", "option", "type", "default", "description");
            foreach (var component in withOptions)
                foreach (var option in component.Options)
                    options.AddRow(Text($"{component.Kind.Key()} {component.Name}"), Text(option.Key), Text(option.Type), Text(option.Default), Text(option.Description));
            console.Write(options);
        }

        var core = new Table().Border(border).Title("core options");
        core.AddColumns("option", "type", "default", "description");
        foreach (var option in VmmHost.CoreOptions)
            core.AddRow(Text(option.Key), Text(option.Type), Text(option.Default), Text(option.Description));
        console.Write(core);
    }

    private static void WriteJson(TextWriter output, VmmHost host)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("pluginsFile", host.PluginsFile);
            writer.WriteStartArray("plugins");
            foreach (var plugin in host.Plugins)
            {
                writer.WriteStartObject();
                writer.WriteString("name", plugin.Name);
                writer.WriteString("path", plugin.AssemblyPath);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteStartArray("components");
            foreach (var component in host.Components)
            {
                writer.WriteStartObject();
                writer.WriteString("kind", component.Kind.Key());
                writer.WriteString("name", component.Name);
                writer.WriteString("plugin", component.Supplier);
                writer.WriteString("description", component.Description);
                WriteOptions(writer, component.Options);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WritePropertyName("coreOptions");
            writer.WriteStartObject();
            WriteOptions(writer, VmmHost.CoreOptions);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        output.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static void WriteOptions(Utf8JsonWriter writer, IReadOnlyList<ComponentOption> options)
    {
        writer.WriteStartArray("options");
        foreach (var option in options)
        {
            writer.WriteStartObject();
            writer.WriteString("key", option.Key);
            writer.WriteString("type", option.Type);
            writer.WriteString("default", option.Default);
            writer.WriteString("description", option.Description);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    /// <summary>A table cell that shows <paramref name="text"/> as it is (plugin-supplied, so never parsed as markup).</summary>
    private static Text Text(string text) => new(text);
}
