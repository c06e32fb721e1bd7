using System.CommandLine;
using Spectre.Console;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;
using Vmm.Hosting;

namespace Vmm.Cli;

/// <summary><c>vmm run [--json] [--kernel V] [--set kind=name]... [--plugins FILE] PATH...</c> (scenario-format.md, "Running").</summary>
internal static class RunCommand
{
    public static Command Create(CliContext context)
    {
        var json = new Option<bool>("--json")
        {
            Description = "Write one JSON document to stdout: {\"scenarios\": [{\"file\", \"name\", \"passed\", \"steps\": [{\"index\", \"op\", \"expected\", \"actual\", \"passed\"}]}]}.",
        };
        var kernel = new Option<string?>("--kernel")
        {
            Description = "Follow this kernel version where versions differ, instead of each file's \"kernel\" (e.g. 6.11).",
            HelpName = "version",
        };
        var set = new Option<string[]>("--set")
        {
            Description = "Use this component in every scenario instead of the file's choice, e.g. --set policy=hwpoison-v2. Repeatable. Kinds: memory, policy, thp, faults, pagetable.",
            HelpName = "kind=name",
            DefaultValueFactory = _ => [],
        };
        var plugins = PluginsCommand.PluginsOption();
        var verbose = new Option<bool>("--verbose", "-v")
        {
            Description = "Show every scenario's step table (by default: only failing scenarios' tables when more than three files run).",
        };
        var paths = new Argument<string[]>("paths")
        {
            Description = "Scenario files, or directories searched recursively for *.json.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("run",
            """
            Run scenarios and check what each step observed against its "expect".

            Examples:
              vmm run scenarios/
              vmm run --json --kernel 6.11 scenarios/hwpoison/v2-tdx-ci-fork.json
              vmm run --set policy=hwpoison-v2 --set memory=tdx-ci scenarios/

            Exit codes: 0 every expectation met; 1 some expectation failed (each failure shows step, op,
            expected and actual); 2 invalid input (file, JSON, schema, unknown op, component or option), reported
            as "vmm: FILE:LINE:COLUMN: message"; 3 internal error.
            """)
        {
            json, kernel, set, plugins, verbose, paths,
        };
        command.SetAction(parseResult => Execute(context, new RunArguments(
            parseResult.GetValue(paths) ?? [],
            parseResult.GetValue(json),
            parseResult.GetValue(kernel),
            parseResult.GetValue(set) ?? [],
            parseResult.GetValue(plugins),
            parseResult.GetValue(verbose))));
        return command;
    }

    private sealed record RunArguments(string[] Paths, bool Json, string? Kernel, string[] Sets, string? Plugins, bool Verbose);

    /// <summary>One file's fate: a result, or the error that stopped it.</summary>
    private sealed record Entry(string File, ScenarioResult? Result, ScenarioException? Error, Exception? InternalError);

    private static int Execute(CliContext context, RunArguments arguments)
    {
        try
        {
            var overrides = Overrides.Parse(arguments.Kernel, arguments.Sets, out var overrideError);
            if (overrides is null)
            {
                context.Error(overrideError!);
                return ExitCodes.BadInput;
            }

            using var host = VmmHost.Load(PluginsLocator.Find(arguments.Plugins), context.ConfigureServices);
            var files = VmmHost.ExpandPaths(arguments.Paths);
            if (files.Count == 0)
            {
                context.Error($"no *.json scenario files in {string.Join(", ", arguments.Paths)}");
                return ExitCodes.BadInput;
            }

            var scenarios = new List<Scenario>();
            var invalid = new List<ScenarioException>();
            foreach (var file in files)
            {
                var validation = host.Validate(file, overrides);
                foreach (var warning in validation.Warnings) context.Error(warning.ToString());
                if (validation.Error is not null) invalid.Add(validation.Error);
                else scenarios.Add(validation.Scenario!);
            }
            if (invalid.Count > 0)
            {
                foreach (var error in invalid) context.Error(error.ToString());
                if (arguments.Json) RunReport.WriteJson(context.Stdout, [], invalid);
                return ExitCodes.BadInput;
            }

            var entries = RunAll(context, host, scenarios, overrides);
            foreach (var entry in entries)
            {
                if (entry.Error is not null) context.Error(entry.Error.ToString());
                if (entry.InternalError is not null) context.Stderr.WriteLine($"vmm: {entry.File}: internal error (a bug; please report it): {entry.InternalError}");
            }

            var results = entries.Where(e => e.Result is not null).Select(e => e.Result!).ToList();
            var errors = entries.Where(e => e.Error is not null).Select(e => e.Error!).ToList();
            if (arguments.Json)
                RunReport.WriteJson(context.Stdout, results, errors);
            else
                RunReport.WriteTables(Consoles.Create(context.Stdout), results, entries.Count(e => e.Result is null), arguments.Verbose || results.Count <= 3);

            if (errors.Count > 0) return ExitCodes.BadInput;
            if (entries.Any(e => e.InternalError is not null)) return ExitCodes.InternalError;
            return results.TrueForAll(r => r.Passed) ? ExitCodes.Passed : ExitCodes.Failed;
        }
        catch (PluginLoadException e)
        {
            context.Error(e.Message);
            return ExitCodes.BadInput;
        }
        catch (ScenarioException e)
        {
            context.Error(e.ToString());
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            return context.InternalError(e);
        }
    }

    private static List<Entry> RunAll(CliContext context, VmmHost host, List<Scenario> scenarios, RunOverrides overrides)
    {
        var entries = new List<Entry>();
        void RunOne(Scenario scenario)
        {
            try
            {
                entries.Add(new Entry(scenario.File, host.Run(scenario, overrides), null, null));
            }
            catch (ScenarioException e)
            {
                entries.Add(new Entry(scenario.File, null, e, null));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                entries.Add(new Entry(scenario.File, null, null, e));
            }
        }

        if (scenarios.Count > 1 && Consoles.IsTerminal(context.Stderr))
        {
            Consoles.Create(context.Stderr).Status().Start("Running scenarios", status =>
            {
                for (var i = 0; i < scenarios.Count; i++)
                {
                    status.Status($"[{i + 1}/{scenarios.Count}] {Markup.Escape(scenarios[i].File)}");
                    RunOne(scenarios[i]);
                }
            });
        }
        else
        {
            scenarios.ForEach(RunOne);
        }
        return entries;
    }
}
