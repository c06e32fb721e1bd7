using System.Text.Json;
using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Options;

/// <summary>
/// The run scope's <see cref="IComponentOptionsSource"/>: the runner hands it the scenario's `options` right
/// after creating the scope, before any component is resolved. <see cref="Configure"/> checks every key so a
/// typo stops the run before it starts.
/// </summary>
public sealed class ScenarioOptionsSource : IComponentOptionsSource
{
    private readonly Dictionary<string, List<OptionValue>> _bySection = new(StringComparer.Ordinal);
    private readonly List<ScenarioWarning> _warnings = [];

    /// <summary>Option sections of the core itself: "linux" (<see cref="KernelOptions"/>), "cost" (<see cref="CostOptions"/>) "memory" (<see cref="MemoryOptions"/>) and "kvm" (<see cref="KvmOptions"/>).</summary>
    public static IReadOnlyDictionary<string, Type> CoreSections { get; } = new Dictionary<string, Type>(StringComparer.Ordinal)
    {
        [KernelOptions.Section] = typeof(KernelOptions),
        [CostOptions.Section] = typeof(CostOptions),
        [MemoryOptions.Section] = typeof(MemoryOptions),
        [KvmOptions.Section] = typeof(KvmOptions),
    };

    /// <summary>Options that are valid but have no effect in this run (their component is not used), from the last <see cref="Configure"/>.</summary>
    public IReadOnlyList<ScenarioWarning> Warnings => _warnings;

    /// <summary>
    /// Takes the scenario's options ("section.option" → value) and checks each against the core sections and
    /// the registered components' options classes, whether or not the run uses the component: unknown
    /// section, unknown option (names match exactly), a value of the wrong type, or a value the options class
    /// rejects is a <see cref="ScenarioException"/> at the option's location. With <paramref name="used"/>
    /// (the component name the run uses for each kind), an option whose component is not among them becomes a
    /// warning in <see cref="Warnings"/>.
    /// </summary>
    public void Configure(
        IEnumerable<KeyValuePair<string, (JsonElement Value, SourceLocation Location)>> options,
        IEnumerable<ComponentDescriptor> descriptors,
        IReadOnlyDictionary<ComponentKind, string>? used = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(descriptors);
        var components = descriptors.ToList();
        var sections = new Dictionary<string, List<Type>>(StringComparer.Ordinal);
        foreach (var (section, type) in CoreSections) sections[section] = [type];
        foreach (var descriptor in components)
        {
            if (descriptor.OptionsType is null || descriptor.OptionsSection is null) continue;
            if (!sections.TryGetValue(descriptor.OptionsSection, out var types)) sections[descriptor.OptionsSection] = types = [];
            if (!types.Contains(descriptor.OptionsType)) types.Add(descriptor.OptionsType);
        }

        _bySection.Clear();
        _warnings.Clear();
        foreach (var (key, (value, location)) in options)
        {
            var dot = key.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0 || dot == key.Length - 1)
                throw new ScenarioException($"option {NameHints.Quote(key)} needs a component: write \"<component>.<option>\", for example \"linux.earlyKill\"", location);
            var section = key[..dot];
            var option = key[(dot + 1)..];
            if (!sections.TryGetValue(section, out var types))
                throw new ScenarioException(UnknownSection(key, section, sections.Keys, components), location);
            var matching = types.Select(t => OptionsBinder.FindProperty(t, option)).OfType<System.Reflection.PropertyInfo>().ToList();
            if (matching.Count == 0)
            {
                var known = types.SelectMany(OptionsBinder.OptionNames).Distinct(StringComparer.Ordinal).ToList();
                throw new ScenarioException($"unknown option {NameHints.Quote(option)} for \"{section}\"{NameHints.DidYouMean(option, known)}; known: {string.Join(", ", known)}", location);
            }
            var entry = new OptionValue(option, value, location);
            foreach (var property in matching) OptionsBinder.Convert(property, section, entry);
            if (!_bySection.TryGetValue(section, out var list)) _bySection[section] = list = [];
            list.Add(entry);
        }

        // The options classes' own checks, for every section named, so a bad value is caught even when its component is not used.
        foreach (var (section, values) in _bySection)
        {
            foreach (var type in sections[section])
            {
                var mine = values.Where(v => OptionsBinder.FindProperty(type, v.Option) is not null).ToList();
                if (mine.Count > 0) OptionsBinder.Validate(OptionsBinder.Bind(type, section, mine), section, mine);
            }
        }

        if (used is not null) WarnAboutUnused(components, used);
    }

    public TOptions Get<TOptions>(string section) where TOptions : class, new() =>
        OptionsBinder.Bind<TOptions>(section, _bySection.TryGetValue(section, out var values) ? values : []);

    private void WarnAboutUnused(List<ComponentDescriptor> components, IReadOnlyDictionary<ComponentKind, string> used)
    {
        foreach (var (section, values) in _bySection)
        {
            if (CoreSections.ContainsKey(section)) continue;
            var owners = components.Where(d => d.OptionsSection == section).ToList();
            if (owners.Exists(d => used.TryGetValue(d.Kind, out var name) && name == d.Name)) continue;
            var belongs = string.Join(" or ", owners.GroupBy(d => d.Kind).Select(g => $"{g.Key.Key()} {string.Join(", ", g.Select(d => d.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))}"));
            var uses = string.Join(" and ", owners.Select(d => d.Kind).Distinct().Select(kind => used.TryGetValue(kind, out var name) ? $"{kind.Key()} {name}" : $"no {kind.Key()} component"));
            foreach (var value in values)
                _warnings.Add(new ScenarioWarning($"option {NameHints.Quote($"{section}.{value.Option}")} has no effect: \"{section}\" options are for {belongs}, and this run uses {uses}", value.Location));
        }
    }

    private static string UnknownSection(string key, string section, IEnumerable<string> known, List<ComponentDescriptor> components)
    {
        var named = components.Find(d => d.Name == section);
        if (named is { OptionsSection: null })
            return $"component \"{section}\" takes no options; remove {NameHints.Quote(key)}";
        if (named is { OptionsSection: { } real })
            return $"the options of component \"{section}\" are under \"{real}\": write {NameHints.Quote($"{real}.{key[(section.Length + 1)..]}")}";
        var sections = known.Order(StringComparer.Ordinal).ToList();
        return $"unknown option section {NameHints.Quote(section)} in {NameHints.Quote(key)}{NameHints.DidYouMean(section, sections)}; known sections: {string.Join(", ", sections)}";
    }
}
