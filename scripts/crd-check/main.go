// Checks the generated CRD with the apiserver's own code (k8s.io/apiextensions-apiserver v0.33): CRD validation
// (structural schema, CEL compilation and cost estimation), then defaulting, OpenAPI and CEL validation
// of every ServingSchedule in the files given. Offline when the module cache already holds these
// modules (test/cluster/build fetches them):
//
//	cd scripts/crd-check && GOFLAGS=-mod=mod go run . ../../deploy/crds/reclaimer.dev_servingschedules.yaml ../../schedules/*.yaml
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	v1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var crd v1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		panic(err)
	}
	crd.Status.StoredVersions = []string{"v1alpha1"}
	scheme := runtime.NewScheme()
	_ = v1.AddToScheme(scheme)
	_ = apiextensions.AddToScheme(scheme)
	var internal apiextensions.CustomResourceDefinition
	if err := scheme.Convert(&crd, &internal, nil); err != nil {
		panic(err)
	}
	errs := validation.ValidateCustomResourceDefinition(context.Background(), &internal)
	failed := len(errs) > 0
	fmt.Println("CRD errors:", len(errs))
	for _, e := range errs {
		fmt.Println("  ", e.Error())
	}
	var props *apiextensions.JSONSchemaProps
	if internal.Spec.Versions[0].Schema != nil {
		props = internal.Spec.Versions[0].Schema.OpenAPIV3Schema
	} else {
		props = internal.Spec.Validation.OpenAPIV3Schema
	}
	st, err := structuralschema.NewStructural(props)
	if err != nil {
		panic(err)
	}
	sv, _, err := apiservervalidation.NewSchemaValidator(props)
	if err != nil {
		panic(err)
	}
	celv := cel.NewValidator(st, true, celconfig.PerCallLimit)
	for _, f := range os.Args[2:] {
		raw, _ := os.ReadFile(f)
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
		for {
			var obj map[string]interface{}
			if err := dec.Decode(&obj); err != nil {
				if err == io.EOF {
					break
				}
				panic(err)
			}
			if obj == nil || obj["kind"] != "ServingSchedule" {
				continue
			}
			structuraldefaulting.Default(obj, st)
			meta, _ := obj["metadata"].(map[string]interface{})
			errs := apiservervalidation.ValidateCustomResource(nil, obj, sv)
			ce, _ := celv.Validate(context.Background(), field.NewPath(""), st, obj, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, ce...)
			failed = failed || len(errs) > 0
			fmt.Printf("%s %v: %d errors\n", f, meta["name"], len(errs))
			for _, e := range errs {
				fmt.Println("   ", e.Error())
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}
