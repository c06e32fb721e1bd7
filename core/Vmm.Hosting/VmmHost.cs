using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Core;
using Vmm.Core.Engine;
using Vmm.Core.Options;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting;

/// <summary>
/// The facade front ends use: loads the plugins listed in plugins.json, builds the container (core + plugins),
/// lists components, validates and runs scenarios (one at a time, or many with <see cref="ScenarioBatch"/>) and returns
/// its own report types. Loading problems are one <see cref="PluginLoadException"/>; bad scenarios are <see cref="Diagnostic"/>s.
/// </summary>
public sealed class VmmHost : IDisposable
{
    private const string CoreSupplier = "core";
    private readonly ServiceProvider _provider;
    private readonly ScenarioRunner _runner;

    private VmmHost(IReadOnlyList<string> pluginsFiles, ServiceProvider provider, IReadOnlyList<PluginInfo> plugins, IReadOnlyList<ComponentInfo> components)
    {
        PluginsFiles = pluginsFiles;
        PluginsFile = pluginsFiles[^1];
        _provider = provider;
        _runner = new ScenarioRunner(provider);
        Plugins = plugins;
        Components = components;
    }

    /// <summary>Full path of the plugins.json this host was loaded from (the last one, the user's, when there are several).</summary>
    public string PluginsFile { get; }

    /// <summary>Full paths of every plugins.json loaded, in order: a packaged vmm's own first (<see cref="PluginsLocator.FindAll(string?, IEnumerable{string}?)"/>).</summary>
    public IReadOnlyList<string> PluginsFiles { get; }

    public IReadOnlyList<PluginInfo> Plugins { get; }

    /// <summary>Every registered component, by kind then name.</summary>
    public IReadOnlyList<ComponentInfo> Components { get; }

    /// <summary>Options of the core itself ("linux.*", "cost.*").</summary>
    public static IReadOnlyList<ComponentOption> CoreOptions { get; } =
        ScenarioOptionsSource.CoreSections.SelectMany(s => OptionsBinder.Describe(s.Value, s.Key)).Select(ComponentOption.Of).ToList();

    public IServiceProvider Services => _provider;

    /// <summary>Loads the plugins.json found by <see cref="PluginsLocator"/> (<paramref name="explicitPath"/>, VMM_PLUGINS, or the nearest above).</summary>
    public static VmmHost LoadDefault(string? explicitPath = null) => Load(PluginsLocator.FindAll(explicitPath));

    /// <summary>
    /// Loads every plugin of <paramref name="pluginsJsonPath"/> and builds the container.
    /// <paramref name="configureServices"/> runs after the plugins (a front end's own services, or test doubles).
    /// </summary>
    public static VmmHost Load(string pluginsJsonPath, Action<IServiceCollection>? configureServices = null)
    {
        ArgumentNullException.ThrowIfNull(pluginsJsonPath);
        return Load([pluginsJsonPath], configureServices);
    }

    /// <summary>
    /// Loads the plugins of several plugins.json files into one host, in order. An entry whose assembly has the same
    /// file name as one of an earlier file replaces it, so a user's own build of a built-in plugin wins over the copy a
    /// packaged vmm carries.
    /// </summary>
    public static VmmHost Load(IReadOnlyList<string> pluginsJsonPaths, Action<IServiceCollection>? configureServices = null)
    {
        ArgumentNullException.ThrowIfNull(pluginsJsonPaths);
        if (pluginsJsonPaths.Count == 0) throw new ArgumentException("name at least one plugins.json", nameof(pluginsJsonPaths));
        var files = pluginsJsonPaths.Select(p => PluginsLocator.FullPathOf(p, "the plugins file")).Distinct(StringComparer.Ordinal).ToList();
        var listed = files.SelectMany(f => PluginsManifest.Read(f).Select(entry => (File: f, Entry: entry))).ToList();
        var entries = listed
            .Where((e, i) => !listed.Skip(i + 1).Any(later => later.File != e.File && string.Equals(Path.GetFileName(later.Entry.FullPath), Path.GetFileName(e.Entry.FullPath), StringComparison.OrdinalIgnoreCase)))
            .ToList();
        IServiceCollection services = new ServiceCollection();
        services.AddVmmCore();
        var suppliers = new Dictionary<(ComponentKind, string), (ComponentDescriptor Descriptor, string Supplier)>();
        foreach (var descriptor in ComponentDescriptors(services))
            suppliers[(descriptor.Kind, descriptor.Name)] = (descriptor, CoreSupplier);

        var plugins = new List<PluginInfo>();
        foreach (var (fullPath, entry) in entries)
        {
            PluginLoadException Fail(string reason) => new($"{fullPath}: {entry.Label}: {reason}", fullPath, entry.Index, entry.Name);

            if (Directory.Exists(entry.FullPath))
                throw Fail($"path {PluginLoadException.Echo(entry.Path)} is a directory; name the plugin's .dll inside it");
            if (!File.Exists(entry.FullPath))
                throw Fail($"file {PluginLoadException.Echo(entry.Path)} not found (looked at {PluginLoadException.Echo(entry.FullPath, 160)}); build it with: dotnet build hosts/Vmm.Cli");
            if (new FileInfo(entry.FullPath).Length == 0)
                throw Fail($"{PluginLoadException.Echo(entry.Path)} is empty, or not a regular file (devices and pipes have no length); name the plugin's .dll, or rebuild it with: dotnet build hosts/Vmm.Cli");

            if (AbstractionsVersion.Problem(entry.FullPath) is { } versionProblem)
                throw Fail(versionProblem);

            Assembly assembly;
            try
            {
                assembly = PluginAssemblies.Load(entry.FullPath);
            }
            catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException or IOException or InvalidOperationException or ArgumentException or UnauthorizedAccessException or NotSupportedException)
            {
                throw Fail($"cannot load {PluginLoadException.Echo(entry.FullPath, 160)} as a .NET assembly ({e.GetType().Name}: {FirstLine(e.Message)}); rebuild the plugin with: dotnet build hosts/Vmm.Cli");
            }

            foreach (var plugin in CreatePlugins(assembly, Fail))
            {
                var pluginServices = new ServiceCollection();
                try
                {
                    plugin.ConfigureServices(pluginServices);
                }
                catch (Exception e)
                {
                    throw Fail($"{plugin.GetType().FullName}.ConfigureServices threw {e.GetType().Name}: {FirstLine(e.Message)}; fix the plugin or remove it from plugins.json");
                }
                var pluginName = string.IsNullOrWhiteSpace(plugin.Name) ? entry.Name : plugin.Name;
                foreach (var descriptor in ComponentDescriptors(pluginServices))
                {
                    if (suppliers.TryGetValue((descriptor.Kind, descriptor.Name), out var existing))
                        throw Fail($"registers {descriptor.Kind.Key()} '{descriptor.Name}', which {(existing.Supplier == CoreSupplier ? "the core" : $"plugin '{existing.Supplier}'")} already registers; rename one or remove a plugin from plugins.json");
                    suppliers[(descriptor.Kind, descriptor.Name)] = (descriptor, pluginName);
                }
                foreach (var service in pluginServices) services.Add(service);
                plugins.Add(new PluginInfo(pluginName, entry.FullPath, assembly.GetName().Version?.ToString()));
            }
        }

        if (configureServices is not null)
        {
            var hostServices = new ServiceCollection();
            configureServices(hostServices);
            foreach (var descriptor in ComponentDescriptors(hostServices))
                suppliers[(descriptor.Kind, descriptor.Name)] = (descriptor, "host");
            foreach (var service in hostServices) services.Add(service);
        }

        var components = suppliers.Values
            .OrderBy(c => c.Descriptor.Kind)
            .ThenBy(c => c.Descriptor.Name, StringComparer.Ordinal)
            .Select(c => new ComponentInfo(
                c.Descriptor.Kind,
                c.Descriptor.Name,
                c.Descriptor.Description,
                c.Supplier,
                c.Descriptor.OptionsSection,
                c.Descriptor.OptionsType is { } type ? OptionsBinder.Describe(type, c.Descriptor.OptionsSection ?? c.Descriptor.Name).Select(ComponentOption.Of).ToList() : [])
            {
                ProtectedBacking = c.Descriptor.ImplementationType.GetCustomAttribute<RequiresAttribute>()?.ProtectedBacking,
                MinimumKernel = c.Descriptor.ImplementationType.GetCustomAttribute<RequiresAttribute>()?.MinimumKernel,
            })
            .ToList();

        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        return new VmmHost(files, provider, plugins, components);
    }

    /// <summary>
    /// Parses a file and checks its components and options against this host, without running it; options of
    /// components the run would not use come back as <see cref="ValidationResult.Warnings"/>.
    /// </summary>
    public ValidationResult Validate(string file, ScenarioOverrides? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        return Validate(file, () => ScenarioParser.ParseFile(file), overrides);
    }

    /// <summary>
    /// As <see cref="Validate(string, ScenarioOverrides?)"/> for scenario text that is not in a file (pasted or uploaded
    /// into a front end); <paramref name="name"/> stands for the file in diagnostics and reports.
    /// </summary>
    public ValidationResult ValidateText(string json, string name, ScenarioOverrides? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(name);
        return Validate(name, () => ScenarioParser.Parse(json, name), overrides);
    }

    private ValidationResult Validate(string file, Func<Scenario> parse, ScenarioOverrides? overrides)
    {
        try
        {
            var scenario = parse();
            var warnings = _runner.Validate(scenario, (overrides ?? ScenarioOverrides.None).ToEngine());
            return new ValidationResult(file, scenario, null, warnings.Select(Diagnostic.From).ToList());
        }
        catch (ScenarioException e)
        {
            return new ValidationResult(file, null, Diagnostic.From(e), []);
        }
    }

    /// <summary>
    /// Runs a validated scenario to its end, calling <paramref name="onStep"/> after each step, and stopping between
    /// steps with <see cref="OperationCanceledException"/> once <paramref name="cancellationToken"/> is cancelled (a time
    /// limit). Bad input found only while running is an <see cref="InvalidScenarioException"/>.
    /// </summary>
    public ScenarioReport Run(ValidationResult scenario, ScenarioOverrides? overrides = null, Action<StepReport>? onStep = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        Action<StepResult>? each = onStep is null ? null : step => onStep(Reports.Of(step));
        return Reports.Of(RunValidated(scenario, overrides, each, cancellationToken));
    }

    /// <summary>As <see cref="Run(ValidationResult, ScenarioOverrides?, Action{StepReport}?, CancellationToken)"/>, told only that a step ended (what the batch counts).</summary>
    internal ScenarioResult RunValidated(ValidationResult scenario, ScenarioOverrides? overrides, Action<StepResult>? onStep, CancellationToken cancellationToken)
    {
        if (scenario.Scenario is not { } valid)
            throw new ArgumentException($"{scenario.File} is not valid ({scenario.Error}); run only a result whose IsValid is true", nameof(scenario));
        try
        {
            return _runner.Run(valid, (overrides ?? ScenarioOverrides.None).ToEngine(), onStep, cancellationToken);
        }
        catch (ScenarioException e)
        {
            throw new InvalidScenarioException(Diagnostic.From(e), e);
        }
    }

    /// <summary>Engine level (Core types, so not public), for tests that build scenarios in memory: parses one scenario file.</summary>
    internal Scenario Parse(string file) => ScenarioParser.ParseFile(file);

    /// <summary>Engine level: runs a parsed scenario to the end.</summary>
    internal ScenarioResult Run(Scenario scenario, RunOverrides? overrides = null) => _runner.Run(scenario, overrides);

    /// <summary>Engine level: runs a parsed scenario, calling <paramref name="onStep"/> after each step.</summary>
    internal ScenarioResult Run(Scenario scenario, RunOverrides? overrides, Action<StepResult>? onStep) => _runner.Run(scenario, overrides, onStep);

    /// <summary>Engine level: as above, stopping between steps with <see cref="OperationCanceledException"/> once <paramref name="cancellationToken"/> is cancelled.</summary>
    internal ScenarioResult Run(Scenario scenario, RunOverrides? overrides, Action<StepResult>? onStep, CancellationToken cancellationToken) =>
        _runner.Run(scenario, overrides, onStep, cancellationToken);

    /// <summary>Engine level, streaming: a prepared run whose <see cref="ScenarioRun.Steps"/> executes one step per item.</summary>
    internal ScenarioRun Start(Scenario scenario, RunOverrides? overrides = null) => _runner.Start(scenario, overrides);

    /// <summary>
    /// Files as given, and for each directory its *.json files at any depth, sorted by ordinal path. A path
    /// that does not exist is an <see cref="InvalidScenarioException"/>.
    /// </summary>
    public static IReadOnlyList<string> ExpandPaths(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
                files.AddRange(Directory.EnumerateFiles(path, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
            else if (File.Exists(path))
                files.Add(path);
            else if (path.StartsWith('-'))
                throw new InvalidScenarioException(new Diagnostic(path, 0, 0, "unknown option (and no such file); see vmm run --help"));
            else
                throw new InvalidScenarioException(new Diagnostic(path, 0, 0, "no such file or directory"));
        }
        return files;
    }

    public void Dispose() => _provider.Dispose();

    private static List<IVmmPlugin> CreatePlugins(Assembly assembly, Func<string, PluginLoadException> fail)
    {
        Type[] types;
        try
        {
            types = assembly.GetExportedTypes();
        }
        catch (Exception e) when (e is ReflectionTypeLoadException or FileNotFoundException or FileLoadException or TypeLoadException)
        {
            var detail = e is ReflectionTypeLoadException load
                ? string.Join("; ", load.LoaderExceptions.OfType<Exception>().Select(x => FirstLine(x.Message)).Distinct())
                : FirstLine(e.Message);
            throw fail($"cannot load the types of {assembly.GetName().Name} ({detail}); rebuild the plugin against this Vmm.Abstractions");
        }

        var pluginTypes = types
            .Where(t => t.IsClass && !t.IsAbstract && typeof(IVmmPlugin).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null)
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .ToList();
        if (pluginTypes.Count == 0)
        {
            var split = types.FirstOrDefault(t => t.GetInterfaces().Any(i => i.FullName == typeof(IVmmPlugin).FullName));
            throw fail(split is not null
                ? $"{split.FullName} implements another copy of IVmmPlugin; reference Vmm.Abstractions with Private=\"false\" and ExcludeAssets=\"runtime\" so the host's copy is shared"
                : $"{assembly.GetName().Name} has no public class implementing Vmm.Abstractions.IVmmPlugin with a parameterless constructor; add one, or remove the entry from plugins.json");
        }

        var plugins = new List<IVmmPlugin>();
        foreach (var type in pluginTypes)
        {
            try
            {
                plugins.Add((IVmmPlugin)Activator.CreateInstance(type)!);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                throw fail($"the constructor of {type.FullName} threw {e.InnerException.GetType().Name}: {FirstLine(e.InnerException.Message)}");
            }
        }
        return plugins;
    }

    private static IEnumerable<ComponentDescriptor> ComponentDescriptors(IServiceCollection services) =>
        services
            .Where(s => !s.IsKeyedService && s.ServiceType == typeof(ComponentDescriptor))
            .Select(s => s.ImplementationInstance)
            .OfType<ComponentDescriptor>();

    /// <summary>The first line of an exception's message, cut short: loader messages repeat the (long) path.</summary>
    private static string FirstLine(string text)
    {
        var newline = text.IndexOfAny(['\r', '\n']);
        return PluginLoadException.Echo(newline < 0 ? text : text[..newline], 200);
    }
}
